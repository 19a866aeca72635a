"""The worker: claim a batch, run the engine, check, mark, sign and store its outputs,
record the job's end.

``loops`` holds the ``Worker`` (claiming, slots, heartbeats, requeueing, draining), ``runs``
one batch by kind, ``checks`` the content policy on what an engine made, ``outputs`` the
marks, finishing and storing of images and videos, ``recording`` a job's end written
through database outages."""

from creatix.worker.loops import Worker
from creatix.worker.slots import SlotPools

__all__ = ["SlotPools", "Worker"]
