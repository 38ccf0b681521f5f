"""The web app's pages, one script each, run by Streamlit by path (see webapp/app.py).

A package so that the layer contracts (import-linter, pyproject.toml) read the pages too:
they hold no SQL and no maths, like the rest of webapp.
"""
