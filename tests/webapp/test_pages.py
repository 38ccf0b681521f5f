"""Every page of the web app, headless (Streamlit's AppTest), on fake models and SQLite."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from arena.store import Battle, Conversation, Vote, make_engine, make_sessionmaker

from .conftest import PASSWORD, SECRET_NAMES

VOTE_LABELS = ["A is better", "B is better", "Tie", "Both are bad"]


def texts(at: AppTest) -> list[str]:
    """Every text the page shows (what would reach the browser as element content)."""
    out: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "subheader",
        "title",
        "info",
        "warning",
        "error",
        "success",
    ):
        out.extend(str(e.value) for e in getattr(at, kind))
    out.extend(b.label for b in at.button)
    return out


def db(db_path: Path) -> list[tuple[str, bool]]:
    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine)() as session:
        rows = [(o, bool(a)) for o, a in session.execute(select(Vote.outcome, Vote.anonymous))]
    engine.dispose()
    return rows


def count(db_path: Path, what: object) -> int:
    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine)() as session:
        n = int(session.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]
    engine.dispose()
    return n


def no_exceptions(at: AppTest) -> None:
    assert [e.value for e in at.exception] == []


def vote_buttons(at: AppTest, prefix: str = "arena") -> list[tuple[str, bool]]:
    return [
        (at.button(key=f"{prefix}-vote-{k}").label, at.button(key=f"{prefix}-vote-{k}").disabled)
        for k in ("A", "B", "TIE", "BOTH_BAD")
    ]


def assert_absent(values: Iterable[str], names: Iterable[str]) -> None:
    text = "\n".join(values)
    for name in names:
        assert name not in text, name


def test_arena_battle_vote_and_reveal(app: Callable[[], AppTest], db_path: Path) -> None:
    at = app().run()
    no_exceptions(at)
    assert [s.value for s in at.subheader] == ["Model A", "Model B"]
    assert vote_buttons(at) == [(label, True) for label in VOTE_LABELS]
    assert at.button(key="arena.regenerate").disabled

    at.chat_input(key="arena.prompt").set_value("Name three rivers").run()
    no_exceptions(at)
    bodies = [m.value for m in at.markdown]
    assert bodies.count("Name three rivers") == 2  # the prompt, on both sides
    assert len(bodies) >= 4  # ... and two answers
    assert vote_buttons(at) == [(label, False) for label in VOTE_LABELS]
    assert_absent(texts(at), (*SECRET_NAMES, "kestrel"))
    assert all(not m.proto.allow_html for m in at.markdown)

    at.button(key="arena-vote-B").click().run()
    no_exceptions(at)
    assert "Thanks for voting (B is better)" in at.success[0].value
    assert at.subheader[0].value.startswith("Model A: ")
    assert vote_buttons(at) == [(label, True) for label in VOTE_LABELS]
    assert db(db_path) == [("model_b", True)]

    at.button(key="arena.new").click().run()
    assert [s.value for s in at.subheader] == ["Model A", "Model B"]
    assert not at.success


def test_arena_follow_up_and_regenerate(app: Callable[[], AppTest], db_path: Path) -> None:
    at = app().run()
    at.chat_input(key="arena.prompt").set_value("first question").run()
    at.chat_input(key="arena.prompt").set_value("second question").run()
    no_exceptions(at)
    bodies = [m.value for m in at.markdown]
    assert bodies.count("first question") == 2 and bodies.count("second question") == 2
    assert "Message 2 of 5 in this round." in [c.value for c in at.caption]
    at.button(key="arena.regenerate").click().run()
    no_exceptions(at)
    assert count(db_path, Battle) == 2
    at.button(key="arena-vote-TIE").click().run()
    assert db(db_path) == [("tie", True)]
    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine)() as session:
        turns = session.scalars(select(Conversation.turns)).all()
    engine.dispose()
    assert turns == [["first question", "second question"]] * 2


def test_arena_bad_input(
    app: Callable[[], AppTest], app_env: Callable[..., None], db_path: Path
) -> None:
    app_env(ARENA_MAX_PROMPT_CHARS="40")
    at = app().run()
    at.chat_input(key="arena.prompt").set_value("x" * 41).run()
    no_exceptions(at)
    assert "41 characters long; the limit is 40: shorten it" in at.error[0].value
    at.chat_input(key="arena.prompt").set_value("   ").run()
    assert "the message is empty" in at.error[0].value
    assert count(db_path, Battle) == 0
    assert vote_buttons(at) == [(label, True) for label in VOTE_LABELS]


def test_html_in_prompts_and_answers_stays_text(
    app: Callable[[], AppTest], app_env: Callable[..., None]
) -> None:
    payload = '<img src=x onerror="alert(1)"> <script>alert(2)</script>'
    app_env(
        models=f"""
[[models]]
name = "fake-x"
backend = "fake"
answers = ['{payload} answer']

[[models]]
name = "fake-y"
backend = "fake"
"""
    )
    at = app().run()
    at.chat_input(key="arena.prompt").set_value(payload).run()
    no_exceptions(at)
    bodies = [m.value for m in at.markdown]
    assert sum("\\<img src\\=x" in b for b in bodies) == 3  # the prompt twice, one answer
    assert not any("<img" in b.replace("\\<img", "") for b in bodies)
    assert all(not m.proto.allow_html for m in at.markdown)


def test_arena_backend_failure_is_a_clear_message(
    app: Callable[[], AppTest], app_env: Callable[..., None], db_path: Path
) -> None:
    app_env(
        models="""
[[models]]
name = "fake-down"
backend = "fake"
fail_rate = 1.0

[[models]]
name = "fake-up"
backend = "fake"
"""
    )
    at = app().run()
    at.chat_input(key="arena.prompt").set_value("hello").run()
    no_exceptions(at)
    assert "temporarily unavailable" in at.error[0].value
    assert "fake-down" not in at.error[0].value
    assert vote_buttons(at) == [(label, True) for label in VOTE_LABELS]
    at.button(key="arena.new").click().run()
    at.chat_input(key="arena.prompt").set_value("again").run()  # the app keeps serving
    no_exceptions(at)
    assert count(db_path, Battle) == 2 and count(db_path, Vote) == 0


def test_malformed_models_file(app: Callable[[], AppTest], app_env: Callable[..., None]) -> None:
    app_env(models='[[models]]\nname = "x"\nbackend = "fakee"\n')
    at = app().run()
    no_exceptions(at)
    assert "The arena cannot start" in at.error[0].value
    assert "unknown backend 'fakee'" in at.error[0].value


def test_side_by_side(app: Callable[[], AppTest], db_path: Path) -> None:
    at = app().run()
    at.switch_page("views/side_by_side.py").run()
    no_exceptions(at)
    assert [s.options for s in at.selectbox] == [["Alpha Chat", "Beta Chat"]] * 2  # no preview
    at.selectbox(key="sbs.a").select("fake-beta").run()
    at.selectbox(key="sbs.b").select("fake-alpha").run()
    at.chat_input(key="sbs.prompt").set_value("compare yourselves").run()
    no_exceptions(at)
    assert [s.value for s in at.subheader] == ["Model A: Beta Chat", "Model B: Alpha Chat"]
    at.button(key="sbs-vote-A").click().run()
    assert "Model A was **Beta Chat**" in at.success[0].value
    assert db(db_path) == [("model_a", False)]


def test_leaderboard(app: Callable[[], AppTest], db_path: Path) -> None:
    at = app().run()
    at.switch_page("views/leaderboard.py").run()
    no_exceptions(at)
    assert "No votes yet" in at.info[0].value
    at.switch_page("views/arena.py").run()
    for i in range(6):
        prompt = "write python code" if i % 2 else "tell a story"
        at.chat_input(key="arena.prompt").set_value(prompt).run()
        at.button(key=f"arena-vote-{['A', 'B', 'TIE'][i % 3]}").click().run()
        at.button(key="arena.new").click().run()
    at.switch_page("views/leaderboard.py").run()
    deadline = time.monotonic() + 30
    while not at.dataframe:  # the page showed the cached board; the refresh lands behind it
        assert time.monotonic() < deadline
        time.sleep(0.1)
        at.run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert list(table.columns) == ["Rank (UB)", "Model", "Organization", "Score", "95% CI", "Votes"]
    assert table["Votes"].sum() == 12
    assert "Gamma" not in " ".join(table["Model"]) + " ".join(table["Organization"])
    assert at.selectbox(key="lb.category").options == ["All", "coding", "general"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download JSON"]
    assert len(at.get("vega_lite_chart")) == 2  # CI chart and heatmap
    assert [t.key for t in at.toggle] == ["lb.style"]  # no judge battles: no judge control
    at.selectbox(key="lb.category").select("coding").run()
    assert at.dataframe[0].value["Votes"].sum() == 6
    at.toggle(key="lb.style").set_value(True).run()
    no_exceptions(at)  # 6 votes are below style control's floor: the page says why
    deadline = time.monotonic() + 30  # the style board is computed behind the page, as above

    def refused() -> bool:
        return any("Style control needs at least 60 votes" in i.value for i in at.info)

    while not refused() and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert refused()


def judge_battles(db_path: Path) -> None:
    """A judge preferring beta over alpha over gamma (a preview model), twice each."""
    from arena.store import store_judge_battles

    order = ["fake-beta", "fake-alpha", "fake-gamma"]
    battles = [
        {"model_a": order[i], "model_b": order[j], "winner": "model_a", "question_id": q}
        for q in (1, 2)
        for i in range(3)
        for j in range(i + 1, 3)
    ]
    battles.append({"model_a": "fake-gamma", "model_b": "fake-beta", "winner": "model_a"})
    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine).begin() as session:
        store_judge_battles(session, "/runs/judge", "fake-gamma", battles)
    engine.dispose()


def test_leaderboard_beside_a_judge(app: Callable[[], AppTest], db_path: Path) -> None:
    judge_battles(db_path)
    at = app().run()
    at.switch_page("views/arena.py").run()
    for i in range(6):
        at.chat_input(key="arena.prompt").set_value("tell a story").run()
        at.button(key=f"arena-vote-{['A', 'B', 'TIE'][i % 3]}").click().run()
        at.button(key="arena.new").click().run()
    at.switch_page("views/leaderboard.py").run()
    deadline = time.monotonic() + 30
    while not at.dataframe:
        assert time.monotonic() < deadline
        time.sleep(0.1)
        at.run()
    no_exceptions(at)
    assert len(at.dataframe) == 1  # the judge table waits for the control
    at.toggle(key="lb.judge_on").set_value(True).run()
    no_exceptions(at)
    assert len(at.dataframe) == 2
    human, judge = (d.value for d in at.dataframe)
    assert list(judge.columns) == ["Rank (UB)", "Model", "Score", "95% CI", "Battles"]
    assert list(judge["Model"]) == ["Beta Chat", "Alpha Chat", "kestrel"]  # public names
    assert judge["Battles"].sum() == 2 * 7
    assert set(judge["Model"]) == set(human["Model"])
    shown = texts(at)
    assert "Judge: kestrel" in shown  # the judge is a preview model: its codename
    assert any("Spearman rank correlation with the human leaderboard" in t for t in shown)
    assert any("7 judge battles" in t and "3 models in common" in t for t in shown)
    assert_absent(shown + list(judge["Model"]), ["Gamma", "fake-"])
    at.toggle(key="lb.judge_on").set_value(False).run()
    assert len(at.dataframe) == 1


def test_admin(app: Callable[[], AppTest], app_env: Callable[..., None], db_path: Path) -> None:
    at = app().run()
    at.switch_page("views/admin.py").run()
    assert "disabled" in at.warning[0].value
    app_env(ARENA_ADMIN_PASSWORD=PASSWORD)
    at = app().run()
    at.switch_page("views/admin.py").run()
    at.text_input(key="admin.password").input("wrong")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong password."
    assert not at.tabs
    at.text_input(key="admin.password").input(PASSWORD)
    at.button[0].click().run()
    no_exceptions(at)
    assert [t.label for t in at.tabs] == ["Models", "Votes", "Exports"]
    models = at.dataframe[0].value
    assert list(models["Model"]) == ["fake-alpha", "fake-beta", "fake-gamma"]
    assert list(models["State"]) == ["ready"] * 3

    at.selectbox(key="admin.model").select("fake-beta").run()
    at.number_input(key="admin.weight.fake-beta").set_value(2.5)
    at.button(key="FormSubmitter:admin.edit.fake-beta-Save").click().run()
    no_exceptions(at)
    assert "Saved fake-beta." in at.success[0].value
    assert at.dataframe[0].value.set_index("Model").loc["fake-beta", "Weight"] == 2.5

    at.selectbox(key="admin.model").select("fake-gamma").run()
    at.button(key="admin.reveal").click().run()
    assert at.dataframe[0].value.set_index("Model").loc["fake-gamma", "Codename"] == ""

    at.button(key="admin.export").click().run()
    no_exceptions(at)
    assert at.get("download_button")[0].proto.label.startswith("Download votes.csv")
    assert at.metric[0].value == "0"
    at.button(key="admin.logout").click().run()
    assert not at.tabs
