"""Entry point of the arena web app: ``arena serve`` (or ``streamlit run webapp/app.py``).

Settings come from the environment (``arena serve`` sets them from its options):
``ARENA_DATABASE_URL``, ``ARENA_MODELS_FILE``, ``ARENA_ADMIN_PASSWORD`` and the limits
read by :meth:`arena.service.ServiceConfig.from_env`.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts webapp/ on the path, not the project
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: E402

from arena.leaderboard import ArenaWarning  # noqa: E402

# The leaderboard's warnings are shown on the page; keep the server log readable.
warnings.filterwarnings("ignore", category=ArenaWarning)

# An emoji icon: Streamlit draws it as a data: URL. A ":material/..." page icon would make
# every visitor's browser fetch the favicon from fonts.gstatic.com (leaking their address).
st.set_page_config(page_title="Arena", page_icon="⚔️", layout="wide")

from webapp.client import client  # noqa: E402
from webapp.common import service, voter  # noqa: E402

# Rate limits count per session and per client address (held in the database): tell
# the service where this session comes from before any page or callback sends a message.
# Only in a script run: a process started with multiprocessing's "spawn" re-imports the
# main module (this file, once Streamlit ran it) bare, and must not open the service.
if get_script_run_ctx() is not None:
    service().identify(voter(), client())

pages = [
    st.Page(
        "views/arena.py",
        title="Arena (battle)",
        icon=":material/swords:",
        url_path="arena",
        default=True,
    ),
    st.Page(
        "views/side_by_side.py",
        title="Side-by-side",
        icon=":material/compare:",
        url_path="side-by-side",
    ),
    st.Page(
        "views/leaderboard.py",
        title="Leaderboard",
        icon=":material/leaderboard:",
        url_path="leaderboard",
    ),
    st.Page(
        "views/admin.py", title="Admin", icon=":material/admin_panel_settings:", url_path="admin"
    ),
]
st.navigation(pages).run()
