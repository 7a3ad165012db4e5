"""Todo AI Chatbot backend: FastAPI, PostgreSQL, JWT auth, chat that acts on tasks."""

__version__ = "0.1.0"
