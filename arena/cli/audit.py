"""``arena audit``: the sampling practices that can distort a ranking, with figures and plots."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from arena.errors import UserError

HELP_EPILOG = """\
After Singh et al. (2025), "The Leaderboard Illusion": data share per organization and
model (battles, distinct prompts) and the sampling-rate disparity; best-of-N selection
(variants per organization and family, the expected upward bias of reporting the best,
by simulation from the fitted covariance, and the selection-corrected rating);
deprecation (ranks without the battles of deprecated or inactive models, graph
connectivity); prompt duplication (exact and normalised share, deduplicated ratings).
Methods: arena/campaign/audit.py.

Organizations and families come from the votes database, or for battle files from a
models file (--models, keys organization and family). Preview models keep their
codename and the organization "Preview" unless --admin.

examples:
  arena audit battles.json --models models.toml --plots audit/
  arena audit --database sqlite:///data/arena.db --format json --output audit.json
  arena audit battles.json --deprecated gpt-4-0314 --deprecated claude-1
"""


def _draws(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if not 100 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"expected 100 to 1000000 draws, got {value}")
    return value


def register(sub: Any) -> None:
    """Add ``arena audit``."""
    from arena.cli.standing import add_source_arguments

    p = sub.add_parser(
        "audit",
        help="integrity audit: data share, best-of-N selection, deprecation, duplicate prompts",
        description="Report the practices known to distort arena rankings, with figures "
        "(Markdown or JSON) and PNG plots.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(p)
    p.add_argument(
        "--deprecated",
        action="append",
        metavar="MODEL",
        help="treat this model as deprecated (repeatable; default: the inactive models)",
    )
    p.add_argument(
        "--draws", type=_draws, default=4000, help="simulation draws of the best-of-N bias (4000)"
    )
    p.add_argument("--seed", type=int, default=0, help="simulation seed (0)")
    p.add_argument("--format", choices=("md", "json"), default="md", help="output (md)")
    p.add_argument("--output", type=Path, metavar="PATH", help="write here, not to stdout")
    p.add_argument("--plots", type=Path, metavar="DIR", help="also write PNG plots into DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Audit and print (or write) the report; returns the exit status."""
    from arena.campaign.audit import audit, audit_markdown, audit_plots
    from arena.cli.standing import load_source, write_text

    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        raise UserError(f"{args.plots}: --plots needs a folder, and this is a file")
    data = load_source(args)
    deprecated = None
    if args.deprecated:
        deprecated = [data.resolve(m) for m in args.deprecated]
    result = audit(data, deprecated=deprecated, draws=args.draws, seed=args.seed)
    if args.format == "json":
        text = json.dumps(result.to_dict(), indent=2, allow_nan=False)
    else:
        text = audit_markdown(result)
    write_text(text, args.output)
    if args.plots is not None:
        for path in audit_plots(result, args.plots):
            print(f"arena: wrote {path}", file=sys.stderr)
    return 0
