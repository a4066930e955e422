"""SignalInbox: signals are queued for the main loop, whichever thread they reach, and handlers are put back."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from balancerd.service.signals import SignalInbox

WAIT_S = 10.0  # a bound only: every wait below ends when the signal's byte arrives


@pytest.fixture()
def inbox() -> Iterator[SignalInbox]:
    box = SignalInbox((signal.SIGUSR1, signal.SIGUSR2))
    box.open()
    try:
        yield box
    finally:
        box.close()


def test_a_signal_raised_in_the_main_thread_is_queued(inbox: SignalInbox) -> None:
    signal.raise_signal(signal.SIGUSR1)
    assert inbox.wait(WAIT_S) == {signal.SIGUSR1}
    assert inbox.wait(0.0) == frozenset()


def test_a_signal_sent_from_another_thread_wakes_the_wait(inbox: SignalInbox) -> None:
    sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGUSR2))
    sender.start()
    received = inbox.wait(WAIT_S)
    sender.join()
    assert received == {signal.SIGUSR2}


def test_signals_that_arrive_between_waits_are_all_returned_by_the_next(inbox: SignalInbox) -> None:
    signal.raise_signal(signal.SIGUSR1)
    signal.raise_signal(signal.SIGUSR2)
    signal.raise_signal(signal.SIGUSR1)
    assert inbox.wait(WAIT_S) == {signal.SIGUSR1, signal.SIGUSR2}


def test_nothing_arrived_means_an_empty_set_after_the_timeout(inbox: SignalInbox) -> None:
    assert inbox.wait(0.01) == frozenset()


def test_close_puts_back_the_handlers_and_the_wakeup_fd() -> None:
    def mine(signum: int, frame: object) -> None:
        """A handler of the caller's."""

    before = signal.signal(signal.SIGUSR1, mine)
    wakeup_fd = signal.set_wakeup_fd(-1)  # whatever another user (an asyncio loop) had installed
    signal.set_wakeup_fd(wakeup_fd)
    try:
        box = SignalInbox((signal.SIGUSR1,))
        box.open()
        assert signal.getsignal(signal.SIGUSR1) is not mine
        box.close()
        assert signal.getsignal(signal.SIGUSR1) is mine
        assert signal.set_wakeup_fd(wakeup_fd) == wakeup_fd
        box.close()  # a second close does nothing
    finally:
        signal.signal(signal.SIGUSR1, before)


def test_wait_before_open_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="before open"):
        SignalInbox((signal.SIGUSR1,)).wait(0.0)
