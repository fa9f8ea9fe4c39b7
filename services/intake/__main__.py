"""``python -m services.intake``: migrate, make sure the topics exist, serve on ``intake_port``."""

from services.intake.app import create_app
from shared.serve import serve

if __name__ == "__main__":
    serve("intake", create_app, lambda settings: settings.intake_port)
