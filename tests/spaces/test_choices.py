"""Space declarations: conditional choices, canonical forms and the operators searchers use."""
import numpy as np
import pytest

from tfnas.spaces.choices import CategoricalSpace, Choice, Condition, Constraint, SearchSpaceError


def depth_space(constraints=()):
    """A depth choice and three layers; layer i's op matters only when depth > i."""
    choices = [Choice("depth", (1, 2, 3))]
    for i in range(3):
        cond = None if i == 0 else Condition("depth", tuple(d for d in (1, 2, 3) if d > i))
        choices.append(Choice(f"op{i}", ("a", "b", "c"), cond))
    return CategoricalSpace(choices, constraints)


def test_inactive_choices_do_not_distinguish_architectures():
    space = depth_space()
    x = {"depth": 1, "op0": "a", "op1": "b", "op2": "c"}
    y = {"depth": 1, "op0": "a", "op1": "c", "op2": "a"}
    assert space.canonical(x) == space.canonical(y) == {"depth": 1, "op0": "a", "op1": "a", "op2": "a"}
    assert space.key(x) == space.key(y)
    deeper = dict(x, depth=2)
    assert space.key(deeper) != space.key(dict(y, depth=2))  # op1 matters at depth 2


def test_mutation_only_touches_active_choices():
    space = depth_space()
    rng = np.random.default_rng(0)
    arch = {"depth": 1, "op0": "b", "op1": "a", "op2": "a"}
    for _ in range(50):
        child = space.mutate(arch, rng, 1)
        changed = [k for k in arch if arch[k] != child[k]]
        assert len(changed) >= 1 and set(changed) <= {"depth", "op0", "op1", "op2"}
        if child["depth"] == 1:  # depth unchanged: the only active op changed
            assert changed == ["op0"]
        assert child == space.canonical(child)


def test_draw_sample_resample_and_crossover_return_canonical_members():
    space = depth_space([Constraint("not_all_c", lambda a: a["op0"] != "c")])
    rng = np.random.default_rng(1)
    for _ in range(100):
        a, b = space.sample(rng), space.sample(rng)
        assert space.feasible(a) and a == space.canonical(a)
        for child in (space.resample(a, rng, 0.5), space.crossover(a, b, rng), space.draw(rng)):
            assert child == space.canonical(child)
            space.validate(child)
        cross = space.crossover(a, b, rng)
        assert all(cross[k] in (a[k], b[k], space.choices[space.names.index(k)].options[0]) for k in cross)


def test_resample_with_probability_zero_keeps_the_parent():
    space = depth_space()
    arch = {"depth": 3, "op0": "b", "op1": "c", "op2": "a"}
    assert space.resample(arch, np.random.default_rng(0), 0.0) == arch


def test_unconditional_spaces_draw_as_before():
    """Without conditions the operators consume the generator exactly as the plain product space did."""
    space = CategoricalSpace([Choice("x", (0, 1, 2)), Choice("y", ("p", "q"))])
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    drawn = [space.draw(rng_a) for _ in range(10)]
    expected = [{"x": (0, 1, 2)[int(rng_b.integers(3))], "y": ("p", "q")[int(rng_b.integers(2))]} for _ in range(10)]
    assert drawn == expected


def test_conditions_must_name_an_earlier_choice_and_its_options():
    with pytest.raises(SearchSpaceError, match="declared before"):
        CategoricalSpace([Choice("op", ("a",), Condition("depth", (1,))), Choice("depth", (1, 2))])
    with pytest.raises(SearchSpaceError, match="not an option"):
        CategoricalSpace([Choice("depth", (1, 2)), Choice("op", ("a",), Condition("depth", (5,)))])
