"""`python -m voice_service`: the API (with the job worker in a thread when JOB_QUEUE_URL is
set); `python -m voice_service worker`: the job worker alone."""

import sys

from voice_service.service import main, worker_main

if sys.argv[1:] == ["worker"]:
    raise SystemExit(worker_main())
main()
