"""The three small APIs of discrete search: a space, an evaluator, a searcher (ask/tell).

In the spirit of KerasTuner's oracle and Archai's searcher: the searcher only proposes
architectures and is told their metrics; how an architecture is evaluated (a table look-up, a
few epochs of training, a supernet forward pass, a latency measurement) is the evaluator's
business. Every searcher keeps all of its state (history, RNG, population, surrogate data) in
``get_state()`` as plain JSON, so ``run_search`` can checkpoint after every evaluation and a
killed search resumes to exactly the result of an uninterrupted one.

Evaluations run through an executor: in this process, one at a time (``InProcessExecutor``, the
default), or several at once on Ray workers (``tfnas.search.ray_executor``). A searcher says how
many proposals it can make before it needs results (``ready``); ``run_search`` asks for that many,
and tells results in the order they were asked (batch-synchronous: the same history for any number
of workers) or, for searchers that allow it, in the order they finish (``asynchronous``).

An architecture is a plain dict {choice name: option}; spaces are declared in
``tfnas.spaces.choices`` (re-exported here). Users plug in their own space (a list of ``Choice``)
and evaluator (any object with ``evaluate(arch) -> dict``) without touching tfnas.
"""
from __future__ import annotations

import abc
import math
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from tfnas.files import as_json, read_state, write_state
from tfnas.spaces.choices import (Architecture, CategoricalSpace, Choice, Condition, Constraint,  # noqa: F401
                                  SearchSpaceError)


class Evaluator(Protocol):
    """Maps an architecture to metrics; the searcher's objective must be among them."""

    def evaluate(self, arch: Architecture) -> dict[str, float]: ...


UNBOUNDED = 1 << 30
"""What ``Searcher.ready`` answers when any number of proposals can be made at once."""


class Searcher(abc.ABC):
    """Base of every discrete searcher: ask/tell plus complete JSON state.

    Subclasses implement ``_propose`` and may extend ``tell``, ``get_state`` and ``set_state``
    (calling super) for their own state, and ``ready`` where they can propose more than one
    architecture before hearing results. The RNG is a numpy PCG64 generator whose state is part of
    ``get_state``, so restoring the state continues the identical sequence of proposals.

    ``outstanding`` holds the architectures asked for but not told yet, in the order they were asked,
    and is part of the state: a search killed while evaluations were in flight resumes by
    evaluating exactly those again (``run_search``), not by drawing new ones, so it still ends with
    the result of an uninterrupted search. ``arrived`` holds results that came back before an
    earlier-asked one (a batch-synchronous search tells in the order asked); they are part of the
    state too, so a killed search does not evaluate them again.
    """

    name = "searcher"

    def __init__(self, space: CategoricalSpace, objective: str, seed: int = 0, mode: str = "max"):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.space = space
        self.objective = objective
        self.mode = mode
        self.seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.history: list[dict[str, Any]] = []  # [{"arch": ..., "metrics": ...}] in evaluation order
        self.outstanding: list[Architecture] = []  # asked for, not told yet, in the order asked
        self.arrived: list[dict[str, Any]] = []  # [{"arch", "metrics"}] outstanding ones whose result is in

    # --- ask / tell -------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Architecture]:
        out = []
        for _ in range(n):
            arch = self._propose()
            self.outstanding.append(dict(arch))
            out.append(arch)
        return out

    def ready(self, asynchronous: bool = False) -> int:
        """How many architectures ``ask`` may propose now, while the outstanding ones are unanswered.

        Batch-synchronous (the default): exactly as many as the searcher would propose one by one
        if it were told each result first, so that a batch evaluated in parallel and told in order
        leaves the same history as a sequential search. ``asynchronous``: as many as the searcher
        is willing to propose from the results it has (regularized evolution's asynchronous
        workers); proposals then depend on which results arrived first. The default is one at a
        time: any proposal may depend on every earlier result.
        """
        return 0 if self.outstanding else 1

    @abc.abstractmethod
    def _propose(self) -> Architecture:
        ...

    @property
    def finished(self) -> bool:
        """True when the searcher has nothing more to propose (e.g. PNAS after its last level)."""
        return False

    def tell(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        if self.objective not in metrics:
            raise KeyError(f"evaluator returned {sorted(metrics)} without the objective {self.objective!r}")
        self.history.append({"arch": dict(arch), "metrics": {k: _jsonable(v) for k, v in metrics.items()}})
        told = as_json(dict(arch))
        _remove_first(self.outstanding, lambda proposed: as_json(proposed) == told)
        _remove_first(self.arrived, lambda entry: as_json(entry["arch"]) == told)

    def receive(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        """Keep a result that is not told yet (an earlier-asked evaluation is still running)."""
        self.arrived.append({"arch": dict(arch), "metrics": {k: _jsonable(v) for k, v in metrics.items()}})

    # --- results ----------------------------------------------------------------------------
    def score(self, metrics: Mapping[str, float]) -> float:
        v = float(metrics[self.objective])
        return v if self.mode == "max" else -v

    def best(self) -> dict[str, Any] | None:
        if not self.history:
            return None
        return max(self.history, key=lambda h: self.score(h["metrics"]))

    def best_so_far(self) -> list[float]:
        out, best = [], -math.inf
        for h in self.history:
            best = max(best, self.score(h["metrics"]))
            out.append(best if self.mode == "max" else -best)
        return out

    # --- state ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {"name": self.name, "objective": self.objective, "mode": self.mode, "seed": self.seed,
                "rng": self.rng.bit_generator.state, "history": [dict(h) for h in self.history],
                "outstanding": [dict(a) for a in self.outstanding], "arrived": [dict(e) for e in self.arrived]}

    def set_state(self, state: Mapping[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"state was saved by searcher {state.get('name')!r}, not {self.name!r}")
        self.objective, self.mode, self.seed = state["objective"], state["mode"], state["seed"]
        self.rng.bit_generator.state = state["rng"]
        self.history = [dict(h) for h in state["history"]]
        self.outstanding = [dict(a) for a in state.get("outstanding", [])]  # states written before it existed: none
        self.arrived = [dict(e) for e in state.get("arrived", [])]


def _remove_first(items: list, matches: Callable[[Any], bool]) -> None:
    for i, item in enumerate(items):
        if matches(item):
            del items[i]
            return


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def load_searcher_state(searcher: Searcher, state_path: str) -> bool:
    """Restore ``searcher`` from the newest intact version of its state file; False when there is none.

    A state that does not parse, or that this searcher refuses (another searcher's, other settings,
    a wrong shape), falls back to the previous version with a warning, else is one clear error.
    """
    def restore(state):
        if not isinstance(state, dict):
            raise TypeError(f"a searcher state is a JSON object, got {type(state).__name__}")
        searcher.set_state(state)
        return True

    return bool(read_state(state_path, restore, default=False))


def reached(searcher: Searcher, target: float | None) -> bool:
    """Whether the best result so far meets ``target`` (at least it when maximising, at most when minimising)."""
    if target is None or not searcher.history:
        return False
    best = searcher.best_so_far()[-1]
    return best >= target if searcher.mode == "max" else best <= target


class Executor(abc.ABC):
    """Runs evaluations, up to ``capacity`` at once; ``run_search`` decides what and when.

    ``submit`` starts one evaluation and returns its ticket; ``wait`` blocks until at least one
    submitted evaluation has finished and returns every finished one as (ticket, metrics);
    ``discard`` forgets evaluations whose results are no longer wanted (their workers may finish
    them, the results are dropped); ``close`` releases the workers.
    """

    capacity: int = 1

    @abc.abstractmethod
    def submit(self, arch: Architecture) -> int: ...

    @abc.abstractmethod
    def wait(self) -> list[tuple[int, dict[str, float]]]: ...

    def discard(self, tickets: list[int]) -> None:
        """Drop the results of ``tickets`` when they arrive (default: nothing is in flight to drop)."""

    def close(self) -> None:
        """Release the workers (default: nothing to release)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcessExecutor(Executor):
    """The default executor: each evaluation runs in this process when its result is awaited."""

    capacity = 1

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator
        self._queue: list[tuple[int, Architecture]] = []
        self._next = 0

    def submit(self, arch: Architecture) -> int:
        self._next += 1
        self._queue.append((self._next, arch))
        return self._next

    def wait(self) -> list[tuple[int, dict[str, float]]]:
        ticket, arch = self._queue.pop(0)
        return [(ticket, self.evaluator.evaluate(arch))]

    def discard(self, tickets: list[int]) -> None:
        dropped = set(tickets)
        self._queue = [(t, a) for t, a in self._queue if t not in dropped]


def run_search(searcher: Searcher, evaluator: Evaluator | None, max_evaluations: int,
               state_path: str | None = None,
               on_result: Callable[[int, Architecture, Mapping[str, float]], None] | None = None,
               target: float | None = None, executor: Executor | None = None,
               asynchronous: bool = False) -> Searcher:
    """Ask, evaluate, tell until ``max_evaluations`` (or until the objective reaches ``target``);
    checkpoint the searcher after every result.

    Evaluations run on ``executor`` (default: ``evaluator`` in this process, one at a time). While
    workers are free, the searcher is asked for as many architectures as it can propose without the
    results in flight (``Searcher.ready``). Results are told in the order they were asked
    (batch-synchronous: the history does not depend on the number of workers or on which worker is
    faster), or with ``asynchronous`` in the order they finish.

    If ``state_path`` exists, the searcher resumes from it first: the architectures that were in
    flight when it was written (``Searcher.outstanding``) are evaluated again before anything new is
    asked, except those whose result had already come back (``Searcher.arrived``), so a killed
    search continues where it stopped, loses no result it received, repeats none, and ends with the
    same result. The state is written after every result with the previous version
    kept beside it (``tfnas.files.write_state``).
    """
    if executor is None:
        if evaluator is None:
            raise ValueError("run_search needs an evaluator or an executor")
        executor = InProcessExecutor(evaluator)
    if state_path:
        load_searcher_state(searcher, state_path)
    asked: dict[int, Architecture] = {}  # ticket -> architecture, in the order asked (dicts keep it)
    finished: dict[int, dict[str, float]] = {}  # results not told yet

    def submit(arch: Architecture) -> None:
        asked[executor.submit(arch)] = arch

    def budget_left() -> int:
        return max_evaluations - len(searcher.history)

    def done() -> bool:
        return budget_left() <= 0 or reached(searcher, target)

    def save() -> None:
        if state_path:
            write_state(state_path, searcher.get_state())

    # What a killed run had in flight (within the budget), before anything new: results that had
    # arrived are taken as they are, the rest evaluated again.
    arrived = [dict(e) for e in searcher.arrived]
    for i, arch in enumerate(list(searcher.outstanding)[:max(budget_left(), 0)]):
        key = as_json(arch)
        match = next((e for e in arrived if as_json(e["arch"]) == key), None)
        if match is None:
            submit(arch)
        else:
            arrived.remove(match)
            asked[-1 - i] = arch  # a ticket no executor hands out
            finished[-1 - i] = match["metrics"]
    while not done():
        in_flight = len(asked) - len(finished)
        room = min(executor.capacity - in_flight, budget_left() - len(searcher.outstanding))
        if room > 0 and not searcher.finished:
            for arch in searcher.ask(min(room, searcher.ready(asynchronous))):
                submit(arch)
        if len(asked) == len(finished) and not finished:  # nothing in flight and nothing more to ask
            break
        results = executor.wait() if len(asked) > len(finished) else []
        finished.update(results)
        if asynchronous:  # in the order they finished
            order = list(finished)
        else:  # the finished prefix of the order they were asked in
            order = []
            for ticket in asked:
                if ticket not in finished:
                    break
                order.append(ticket)
        for ticket in order:
            if done():
                break
            arch, metrics = asked.pop(ticket), finished.pop(ticket)
            searcher.tell(arch, metrics)
            save()
            if on_result is not None:
                on_result(len(searcher.history), arch, metrics)
        waiting = [(ticket, metrics) for ticket, metrics in results if ticket in finished]
        if waiting and not done():  # in before an earlier-asked one: kept in the state, told later
            for ticket, metrics in waiting:
                searcher.receive(asked[ticket], metrics)
            save()
    if len(asked) > len(finished):  # in flight when the budget or the target was reached: not wanted
        executor.discard([ticket for ticket in asked if ticket not in finished])
    return searcher
