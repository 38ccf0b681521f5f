"""The arena web app (Streamlit): ``streamlit run webapp/app.py`` or ``arena serve``."""
