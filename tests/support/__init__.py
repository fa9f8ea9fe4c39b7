"""The helpers every test package shares: one of each, so a test never writes its own.

``wait_for`` and ``free_port`` are devtools' (the launcher and the dev runner use them too); the
collecting webhook receiver is the demo inbox's; the fixed clock and the fake publisher are test-only.
"""

from devtools.ports import free_port
from devtools.waiting import WaitTimeout, wait_for
from devtools.webhook_receiver import ReceivedWebhook, WebhookReceiver
from tests.support.clock import FixedClock
from tests.support.fakes import FakePublisher

__all__ = ["FakePublisher", "FixedClock", "ReceivedWebhook", "WaitTimeout", "WebhookReceiver", "free_port", "wait_for"]
