"""Which earlier moves of a plan each move must wait for; the :class:`~balancerd.execute.runner.Executor`
asks :class:`HostOrder` before it starts a move so that concurrent execution stays as safe as the sequential
plan the planner checked.
"""

from __future__ import annotations

from balancerd.model import Move, MoveResult


class HostOrder:
    """Which earlier moves each move must wait for: those that free room on its destination (their source is
    its destination) and earlier moves of the same VM (a parked VM). Moves that only add load to the same
    destination, or leave the same source, run together: the planner checked the destination with every
    earlier move applied, and a migrating VM still counts on its source until it ends.

    Each key's pointer only moves forward past ended moves, so checking is amortised O(1) per move.
    """

    def __init__(self, moves: tuple[Move, ...]) -> None:
        self._moves = moves
        self._by_key: dict[tuple[str, str], list[int]] = {}
        for index, move in enumerate(moves):
            self._by_key.setdefault(("source", move.source), []).append(index)
            self._by_key.setdefault(("vm", move.vm), []).append(index)
        self._first = dict.fromkeys(self._by_key, 0)

    def blocked(self, index: int, ended: dict[int, MoveResult]) -> bool:
        """True while an earlier move off ``index``'s destination, or of the same VM, is open."""
        move = self._moves[index]
        return any(self._first_open(key, ended) < index for key in (("source", move.dest), ("vm", move.vm)))

    def _first_open(self, key: tuple[str, str], ended: dict[int, MoveResult]) -> int:
        indices = self._by_key.get(key)
        if indices is None:
            return len(self._moves)
        position = self._first[key]
        while position < len(indices) and indices[position] in ended:
            position += 1
        self._first[key] = position
        return indices[position] if position < len(indices) else len(self._moves)
