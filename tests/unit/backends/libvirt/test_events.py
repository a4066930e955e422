"""Unit tests of balancerd.backends.libvirt.events: register once, one thread while used, stop on last release."""

from __future__ import annotations

import threading

from balancerd.backends.libvirt.events import EventLoop


class FakeImpl:
    """An event implementation whose iterations block until woken."""

    def __init__(self) -> None:
        self.registered = 0
        self.iterations = 0
        self._bell = threading.Event()

    def register(self) -> None:
        self.registered += 1

    def run_once(self) -> int:
        self._bell.wait(5)
        self._bell.clear()
        self.iterations += 1
        return 0

    def wake(self) -> None:
        self._bell.set()


def test_registers_once_and_runs_one_thread_while_used() -> None:
    impl = FakeImpl()
    loop = EventLoop(impl.register, impl.run_once, impl.wake)
    loop.acquire()
    loop.acquire()
    assert loop.running and impl.registered == 1
    assert sum(t.name == "libvirt-events" and t.is_alive() for t in threading.enumerate()) >= 1
    loop.release()
    assert loop.running  # one user left
    loop.release()
    assert not loop.running and impl.iterations >= 1  # woken, saw the stop flag, returned


def test_restarts_after_a_full_stop_without_registering_again() -> None:
    impl = FakeImpl()
    loop = EventLoop(impl.register, impl.run_once, impl.wake)
    loop.acquire()
    loop.release()
    loop.acquire()
    assert loop.running and impl.registered == 1
    loop.release()
    assert not loop.running


def test_loop_ends_when_the_implementation_fails() -> None:
    done = threading.Event()

    def failing() -> int:
        done.set()
        return -1

    loop = EventLoop(lambda: None, failing, lambda: None)
    loop.acquire()
    assert done.wait(5)
    loop.release()
    assert not loop.running
