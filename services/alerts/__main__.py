"""``python -m services.alerts``: migrate, make sure the topics exist, serve on ``alerts_port``."""

from services.alerts.app import create_app
from shared.serve import serve

if __name__ == "__main__":
    serve("alerts", create_app, lambda settings: settings.alerts_port)
