"""Settings of the drills' worker subprocess: the test settings, with tasks sent through the broker.

`tests.settings` runs tasks eagerly (a test without a worker would otherwise never see them run);
a real worker must send the tasks it queues (a parent's children, retries) to the broker as
production does, so the drills start it with this module.
"""

from tests.settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
