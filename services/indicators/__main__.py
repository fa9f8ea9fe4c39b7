"""``python -m services.indicators``: migrate, make sure the topics exist, serve on ``indicators_port``."""

from services.indicators.app import create_app
from shared.serve import serve

if __name__ == "__main__":
    serve("indicators", create_app, lambda settings: settings.indicators_port)
