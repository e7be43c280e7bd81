"""The course's exercises: checks that give instant, specific feedback, and a safe fallback.

Each notebook asks the learner to write a few pieces of the method themselves. A check runs
the learner's function on small cases whose answers are known and reports the first case that
fails, with the expected and the actual value (and, when the actual value is a classic mistake,
which one). `use_or_fallback` prints one line and returns the learner's function if it passes,
or the library's otherwise, so "Run All" always completes:

    gaussian_kl = use_or_fallback("gaussian_kl", gaussian_kl, check_gaussian_kl,
                                  losses.gaussian_kl, FIGURES)

The outcome goes to FIGURES["exercises"][name] as "solved" or "fallback".

The checks import the trainer and the evaluation only when called (a notebook that runs no such
check does not pay for them in memory).
Some pieces are computed inline by the library (the crop box inside `data.apply_aug_params`,
the sample inside `SuperInfoModel.forward`, InfoNCE on a ready score matrix); their reference
versions live at the end of this module, checked against the library by tests/test_exercises.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import losses


@dataclass(frozen=True)
class ExerciseResult:
    """What a check found: `passed`, and a one-line `message` (all cases, or the first failure)."""

    name: str
    passed: bool
    message: str
    not_implemented: bool = False

    def __str__(self) -> str:
        return f"{self.name}: {'pass' if self.passed else 'FAIL'} - {self.message}"


class _Mismatch(Exception):
    """One case's actual value differs from the expected one (the message says how)."""


def _fmt(x) -> str:
    """A short, readable rendering of a number or a small tensor."""
    if isinstance(x, torch.Tensor):
        if x.numel() == 1:
            return _fmt(x.item())
        if x.numel() <= 12:
            return _fmt(x.tolist())
        values = [_fmt(v) for v in x.detach().flatten()[:6].tolist()]
        return f"[{', '.join(values)}, ...] (shape {tuple(x.shape)})"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, float):
        return f"{x:.4g}"
    return repr(x)


class _Cases:
    """Runs a check's cases in a `with` block and turns the first failure into a result.

    with _Cases("gaussian_kl") as c:
        c.case("KL of identical Gaussians")
        c.close(fn(mu, lv, mu, lv), torch.zeros(3))
    return c.result
    """

    def __init__(self, name: str):
        self.name, self.current, self.count, self.result = name, "", 0, None

    def __enter__(self) -> _Cases:
        return self

    def case(self, description: str) -> None:
        self.current = description
        self.count += 1

    def fail(self, message: str) -> None:
        raise _Mismatch(message)

    def tensor(self, actual, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """The learner's value as a float64 tensor, after checking its type and shape.

        None (a stub whose body is `...`) counts as not implemented yet; a list of numbers
        (one per call) is compared as a tensor.
        """
        if actual is None:
            raise NotImplementedError
        if isinstance(actual, (list, tuple)):
            try:
                actual = torch.tensor([float(v) for v in actual], dtype=torch.float64)
            except (TypeError, ValueError, RuntimeError):
                self.fail(f"{self.current}: should return numbers, got {_fmt(actual)}")
        if isinstance(actual, (int, float)) and shape == ():
            return torch.tensor(float(actual), dtype=torch.float64)
        if not isinstance(actual, torch.Tensor):
            self.fail(f"{self.current}: should return a torch tensor, got {type(actual).__name__}")
        if shape is not None and tuple(actual.shape) != shape:
            self.fail(f"{self.current}: should have shape {shape}, got {tuple(actual.shape)}")
        return actual.detach().double()

    def close(
        self, actual, expected, atol: float = 1e-6, rtol: float = 1e-5, hints: dict[str, object] | None = None
    ) -> None:
        """Fail unless `actual` matches `expected`; name a hint whose wrong value `actual` matches."""
        expected = torch.as_tensor(expected, dtype=torch.float64)
        actual = self.tensor(actual, tuple(expected.shape))
        if torch.allclose(actual, expected, atol=atol, rtol=rtol):
            return
        message = f"{self.current}: should be {_fmt(expected)}, got {_fmt(actual)}"
        for hint, wrong in (hints or {}).items():
            wrong = torch.as_tensor(wrong, dtype=torch.float64)
            if wrong.shape == actual.shape and torch.allclose(actual, wrong, atol=atol, rtol=rtol):
                message += f" - {hint}"
                break
        self.fail(message)

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None:
            self.result = ExerciseResult(self.name, True, f"all {self.count} cases pass")
        elif isinstance(error, NotImplementedError):
            self.result = ExerciseResult(self.name, False, "not implemented yet", not_implemented=True)
        elif isinstance(error, _Mismatch):
            self.result = ExerciseResult(self.name, False, str(error))
        elif isinstance(error, Exception):
            text = " ".join(str(error).split())
            text = text if len(text) <= 200 else text[:200] + "..."
            self.result = ExerciseResult(
                self.name, False, f"{self.current}: raised {type(error).__name__}: {text}"
            )
        else:  # KeyboardInterrupt and friends are not the learner's answer
            return False
        return True


def use_or_fallback(
    name: str,
    fn: Callable,
    check: Callable[[Callable], ExerciseResult],
    library_fn: Callable,
    figures: dict | None = None,
) -> Callable:
    """Check the learner's `fn`; return it if it passes, else `library_fn`. Prints one line.

    figures: the notebook's FIGURES dict; the outcome is stored in figures["exercises"][name]
    as "solved" or "fallback".
    """
    result = check(fn)
    library = f"{library_fn.__module__}.{library_fn.__qualname__}"
    if result.passed:
        print(f"exercise {name!r} solved: {result.message}")
    else:
        why = "" if result.not_implemented else f" ({result.message})"
        print(
            " ".join(
                f"exercise {name!r} not solved yet{why}: using {library} for the rest of the notebook".split()
            )
        )
    if figures is not None:
        figures.setdefault("exercises", {})[name] = "solved" if result.passed else "fallback"
    return fn if result.passed else library_fn


def _randn(*shape, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ----------------------------------------------------------------------------- notebook 1: views


def check_flip_horizontal(fn) -> ExerciseResult:
    """fn(images (B, C, H, W), flip (B,) of 0.0 / 1.0) -> images with the flagged ones mirrored."""
    images = _randn(4, 3, 5, 6)
    looks = {
        "mirrored left-right": images.flip(-1),
        "unchanged": images,
        "upside down (mirror the width axis, the last one)": images.flip(-2),
    }
    with _Cases("flip_horizontal") as c:
        for flags in ([0.0] * 4, [1.0] * 4, [1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]):
            c.case(f"with flip = {[int(f) for f in flags]}")
            out = c.tensor(fn(images.clone(), torch.tensor(flags)), tuple(images.shape))
            for i, flag in enumerate(flags):
                want = "mirrored left-right" if flag else "unchanged"
                if torch.allclose(out[i], looks[want][i]):
                    continue
                got = next(
                    (k for k, v in looks.items() if torch.allclose(out[i], v[i])),
                    f"off by up to {_fmt((out[i] - looks[want][i]).abs().max())}",
                )
                per_sample = (
                    " - flip is drawn per sample: mirror only the images whose flag is 1"
                    if 0 < sum(flags) < len(flags)
                    else ""
                )
                c.fail(
                    f"{c.current}, image {i} (flag {int(flag)}) should be {want}, but it is {got}{per_sample}"
                )
        c.case("the input batch")
        original = images.clone()
        fn(images, torch.tensor([1.0, 0.0, 1.0, 0.0]))
        if not torch.equal(images, original):
            c.fail(f"{c.current} was changed in place: return a new tensor")
    return c.result


def _theta(cx, cy, w, h, flip=0.0):
    """[[[w, 0, 2 cx - 1], [0, h, 2 cy - 1]]] and what classic mistakes give instead."""
    right = [[[w, 0, 2 * cx - 1], [0, h, 2 * cy - 1]]]
    return right, {
        "the translation is the centre in [-1, 1] coordinates: 2 * cx - 1": [[[w, 0, cx], [0, h, cy]]],
        "the scale is w itself: the output's [-1, 1] spans the box's [-w, w] around its centre": [
            [[w / 2, 0, 2 * cx - 1], [0, h / 2, 2 * cy - 1]]
        ],
        "row 0 is x (width: cx, w), row 1 is y (height: cy, h)": [[[h, 0, 2 * cy - 1], [0, w, 2 * cx - 1]]],
        "leave the flip out of theta (exercise 'flip_horizontal' mirrors the crop)": [
            [[w * (1 - 2 * flip), 0, 2 * cx - 1], [0, h, 2 * cy - 1]]
        ],
    }


def check_crop_theta(fn) -> ExerciseResult:
    """fn(params (B, 11)) -> (B, 2, 3) affine maps of the crop boxes (the flip is not included)."""
    with _Cases("crop_theta") as c:
        for description, box in (
            ("the whole image (centre 0.5, 0.5; size 1 x 1)", (0.5, 0.5, 1.0, 1.0)),
            ("the left half (centre 0.25, 0.5; size 0.5 x 1)", (0.25, 0.5, 0.5, 1.0)),
            ("a box at the bottom right (centre 0.7, 0.8; size 0.4 x 0.2)", (0.7, 0.8, 0.4, 0.2)),
            ("a flipped box (flip = 1; centre 0.5, 0.5; size 0.6 x 0.8)", (0.5, 0.5, 0.6, 0.8, 1.0)),
        ):
            c.case(f"theta of {description}")
            cx, cy, w, h, flip = (*box, 0.0)[:5]
            row = torch.tensor([[cx, cy, w, h, flip, 0, 1, 1, 1, 0, 0]], dtype=torch.float32)
            right, hints = _theta(cx, cy, w, h, flip)
            c.close(fn(row), right, hints=hints)
        c.case("theta of a batch of 5 boxes, each its own")
        from .data import AugmentConfig, sample_aug_params

        batch = sample_aug_params(5, AugmentConfig(), torch.Generator().manual_seed(0))
        c.close(fn(batch), crop_theta(batch), atol=1e-5)
    return c.result


# ----------------------------------------------------------------------------- notebook 2: InfoNCE


def _info_nce_hints(scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """Values classic mistakes give on `scores`, to name the mistake when the learner's matches."""
    two_n = len(scores)
    n = two_n // 2
    positive = torch.cat([torch.arange(n, two_n), torch.arange(n)])
    unmasked = F.cross_entropy(scores, positive)
    masked = info_nce_from_scores(scores)
    per_anchor = F.cross_entropy(
        scores.masked_fill(torch.eye(two_n, dtype=torch.bool), -math.inf), positive, reduction="none"
    )
    return {
        "the anchor itself is among the candidates: exclude b = a (mask the diagonal)": unmasked,
        "average over the 2N anchors, do not sum": masked * two_n,
        "every one of the 2N rows is an anchor, view 2's rows too": per_anchor[:n].mean(),
    }


def check_info_nce(fn) -> ExerciseResult:
    """fn(scores (2N, 2N)) -> scalar tensor: the mean over the 2N anchors of InfoNCE."""

    def call(scores):
        loss = fn(scores)
        if isinstance(loss, (int, float)):
            c.fail(
                f"{c.current}: should return a torch tensor (it is differentiated later: "
                f"no .item()), got {type(loss).__name__}"
            )
        return loss

    with _Cases("info_nce") as c:
        c.case("one pair (N = 1): each anchor's only candidate is its positive, so the loss")
        scores = torch.tensor([[3.0, 0.5], [0.2, 1.0]], dtype=torch.float64)
        c.close(call(scores), 0.0, hints=_info_nce_hints(scores))
        c.case("N = 4, all scores equal: the loss is log(2N - 1) = log 7")
        scores = torch.zeros(8, 8, dtype=torch.float64)
        c.close(call(scores), math.log(7), hints=_info_nce_hints(scores))
        for seed, n in ((1, 3), (2, 5)):
            c.case(f"random scores, N = {n} (row a holds anchor a's scores), the loss")
            scores = _randn(2 * n, 2 * n, seed=seed) * 2
            c.close(call(scores), info_nce_from_scores(scores), hints=_info_nce_hints(scores))
        c.case("cosine scores of 16 random pairs (tau = 0.2), compared with superinfo_lib.losses.info_nce")
        p1, p2 = _randn(16, 8, seed=3), _randn(16, 8, seed=4)
        u = F.normalize(torch.cat([p1, p2]), dim=1)
        c.close(call(u @ u.T / 0.2), losses.info_nce(p1, p2, 0.2))
        c.case("the gradient of the loss with respect to the scores (N = 3)")
        scores = (_randn(6, 6, seed=5) * 2).requires_grad_()
        loss = call(scores)
        if not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
            c.fail(
                f"{c.current}: the loss carries no gradient - build it from the scores with tensor "
                "operations (it is differentiated later: no .item(), float() or torch.tensor(...) of values)"
            )
        (grad,) = torch.autograd.grad(loss, scores)
        expected = torch.autograd.grad(info_nce_from_scores(scores), scores)[0]
        c.close(grad, expected)
    return c.result


# ----------------------------------------------------------------------------- notebook 3: the KL


def _kl_1d(mu_a: float, var_a: float, mu_b: float, var_b: float) -> float:
    return 0.5 * (math.log(var_b / var_a) + (var_a + (mu_a - mu_b) ** 2) / var_b - 1)


def check_gaussian_kl(fn) -> ExerciseResult:
    """fn(mu_a, logvar_a, mu_b, logvar_b), each (N, K) -> (N,) KL(N_a || N_b), summed over K."""
    log_variance = "logvar is a log-variance: the variance is exp(logvar)"
    no_ratio = "the variance ratio var_a / var_b is missing from (var_a + (mu_a - mu_b)^2) / var_b"

    def call(*args):
        out = fn(*args)
        if isinstance(out, torch.Tensor) and not torch.isfinite(out).all():
            c.fail(
                f"{c.current}: got {_fmt(out.detach())}, not a finite number - {log_variance} "
                "(always positive: a log of logvar itself is NaN wherever logvar < 0)"
            )
        return out

    with _Cases("gaussian_kl") as c:
        mu, logvar = _randn(3, 4, seed=0), _randn(3, 4, seed=1)
        c.case("KL of identical Gaussians")
        c.close(call(mu, logvar, mu, logvar), torch.zeros(3))
        c.case("KL(N(0, e) || N(0, e^2)), logvar 1 and 2")
        zero, one = torch.zeros(1, 1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64)
        c.close(
            call(zero, one, zero, 2 * one),
            [_kl_1d(0, math.e, 0, math.e**2)],
            hints={
                "that is KL(N(0, e^2) || N(0, e)): are a and b swapped?": [_kl_1d(0, math.e**2, 0, math.e)],
                log_variance + ", not logvar itself": [_kl_1d(0, 1, 0, 2)],
                "exp(logvar) is the variance, not the standard deviation": [
                    _kl_1d(0, math.e**2, 0, math.e**4)
                ],
                no_ratio: [0.5 * (2 - 1)],
            },
        )
        c.case("KL(N(0, 1) || N(1, 1))")
        c.close(call(zero, zero, one, zero), [0.5])
        c.case("KL(N(0, 1) || N(0, 4))")
        log4 = torch.full((1, 1), math.log(4), dtype=torch.float64)
        c.close(
            call(zero, zero, zero, log4),
            [_kl_1d(0, 1, 0, 4)],
            hints={
                "that is KL(N(0, 4) || N(0, 1)): are a and b swapped?": [_kl_1d(0, 4, 0, 1)],
                no_ratio: [0.5 * (math.log(4) + 1 - 1)],
            },
        )
        c.case("two dimensions, each KL(N(0, 1) || N(1, 1)) = 0.5: the KL sums over dimensions")
        c.close(
            call(zero.repeat(1, 2), zero.repeat(1, 2), one.repeat(1, 2), zero.repeat(1, 2)),
            [1.0],
            hints={"that is the mean over dimensions: sum them": [0.5]},
        )
        c.case("one KL per sample: 3 samples")
        mu_b, logvar_b = _randn(3, 4, seed=2), _randn(3, 4, seed=3)
        expected = losses.gaussian_kl(mu, logvar, mu_b, logvar_b)
        out = call(mu, logvar, mu_b, logvar_b)
        if isinstance(out, torch.Tensor) and out.ndim == 0:
            c.fail(
                f"{c.current}: should have shape (3,), got () - return one KL per sample, "
                "the batch mean comes later"
            )
        c.close(
            out,
            expected,
            hints={
                "are a and b swapped?": losses.gaussian_kl(mu_b, logvar_b, mu, logvar),
                "that is the mean over dimensions: sum them": expected / 4,
            },
        )
    return c.result


def check_reparameterize(fn) -> ExerciseResult:
    """fn(mu, logvar, eps), each (N, K) -> z = mu + exp(logvar / 2) * eps, differentiable."""
    with _Cases("reparameterize") as c:
        mu, logvar = _randn(2, 3, seed=0), _randn(2, 3, seed=1)
        c.case("with eps = 0 the sample")
        c.close(fn(mu, logvar, torch.zeros(2, 3, dtype=torch.float64)), mu)
        c.case("mu = 0, variance 4 (logvar = log 4), eps = 1: the sample")
        zero, one = torch.zeros(1, 1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64)
        log4 = torch.full((1, 1), math.log(4), dtype=torch.float64)
        c.close(
            fn(zero, log4, one),
            [[2.0]],
            hints={
                "exp(logvar) is the variance; scale eps by the standard deviation exp(logvar / 2)": [[4.0]],
                "logvar is a log-variance, not the standard deviation": [[math.log(4)]],
            },
        )
        c.case("random mu, logvar and eps: the sample")
        eps = _randn(2, 3, seed=2)
        c.close(fn(mu, logvar, eps), reparameterize(mu, logvar, eps))
        c.case("gradients: d z / d mu and d z / d logvar")
        mu_g, logvar_g = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
        z = fn(mu_g, logvar_g, eps)
        if not isinstance(z, torch.Tensor) or not z.requires_grad:
            c.fail(
                f"{c.current}: the sample carries no gradient - compute it from mu and logvar with "
                "tensor operations (that is the reparameterisation trick), no .detach() or sampling"
            )
        z.sum().backward()
        for name, grad, expected in (
            ("mu", mu_g.grad, torch.ones_like(mu)),
            ("logvar", logvar_g.grad, 0.5 * torch.exp(0.5 * logvar) * eps),
        ):
            c.case(f"gradient of the sample with respect to {name}")
            if grad is None:
                c.fail(f"{c.current}: none reaches {name} - compute z from it with tensor operations")
            c.close(grad, expected)
    return c.result


# ----------------------------------------------------------------------------- notebook 4: the objective

TERM_KEYS = ("loss", "nce", "kl_12", "kl_21")


# Longer than most functions here: one case per plausible mistake, each with its own feedback.
def check_superinfo_loss(fn) -> ExerciseResult:
    """fn(p1, p2, mu1, logvar1, mu2, logvar2, *, lambda_pred, beta_12, beta_21, temperature)
    -> dict with "loss", "nce", "kl_12", "kl_21" (batch means)."""
    p1, p2 = _randn(6, 4, seed=0), _randn(6, 4, seed=1)
    mu1, mu2 = _randn(6, 3, seed=2), _randn(6, 3, seed=3)
    logvar1, logvar2 = _randn(6, 3, seed=4) - 1, _randn(6, 3, seed=5) + 1  # unequal: KL(1||2) != KL(2||1)
    nce = losses.info_nce(p1, p2, 0.5)
    kl_12 = losses.gaussian_kl(mu1, logvar1, mu2, logvar2)
    kl_21 = losses.gaussian_kl(mu2, logvar2, mu1, logvar1)
    swapped = "beta_12 weighs KL(q1 || q2) and beta_21 weighs KL(q2 || q1): are they swapped?"
    summed = "average the KL over the batch, do not sum it"

    def run(c, lambda_pred, beta_12, beta_21, temperature=0.5):
        terms = fn(
            p1,
            p2,
            mu1,
            logvar1,
            mu2,
            logvar2,
            lambda_pred=lambda_pred,
            beta_12=beta_12,
            beta_21=beta_21,
            temperature=temperature,
        )
        if terms is None:
            raise NotImplementedError
        if not isinstance(terms, dict) or not set(TERM_KEYS) <= set(terms):
            got = sorted(terms) if isinstance(terms, dict) else type(terms).__name__
            c.fail(f"{c.current}: should return a dict with keys {', '.join(TERM_KEYS)}, got {got}")
        return terms

    with _Cases("superinfo_loss") as c:
        c.case("beta_12 = beta_21 = 0, lambda_pred = 1: the loss is InfoNCE")
        c.close(run(c, 1.0, 0.0, 0.0)["loss"], nce)
        c.case("lambda_pred = 2, no beta: the loss")
        c.close(run(c, 2.0, 0.0, 0.0)["loss"], 2 * nce)
        c.case("lambda_pred = 0, beta_12 = 1, beta_21 = 0: the loss is the mean KL(q1 || q2)")
        c.close(
            run(c, 0.0, 1.0, 0.0)["loss"], kl_12.mean(), hints={swapped: kl_21.mean(), summed: kl_12.sum()}
        )
        c.case("lambda_pred = 0, beta_12 = 0, beta_21 = 1: the loss is the mean KL(q2 || q1)")
        c.close(
            run(c, 0.0, 0.0, 1.0)["loss"], kl_21.mean(), hints={swapped: kl_12.mean(), summed: kl_21.sum()}
        )
        c.case("lambda_pred = 1, beta_12 = 0.1, beta_21 = 0.01: the terms")
        terms = run(c, 1.0, 0.1, 0.01)
        for key, expected in (
            ("nce", nce),
            ("kl_12", kl_12.mean()),
            ("kl_21", kl_21.mean()),
            ("loss", nce + 0.1 * kl_12.mean() + 0.01 * kl_21.mean()),
        ):
            c.case(f"lambda_pred = 1, beta_12 = 0.1, beta_21 = 0.01: terms[{key!r}]")
            c.close(terms[key], expected)
        c.case("temperature 0.2 (not 0.5), no beta: the loss is InfoNCE at that temperature")
        c.close(
            run(c, 1.0, 0.0, 0.0, temperature=0.2)["loss"],
            losses.info_nce(p1, p2, 0.2),
            hints={"pass the temperature argument to info_nce; do not fix it": nce},
        )
    return c.result


def check_exponential_warmup(fn) -> ExerciseResult:
    """fn(final, progress, warmup_fraction, start) -> beta at training progress in [0, 1]."""
    with _Cases("exponential_warmup") as c:
        c.case("at progress 0 (final 0.1, warm-up 0.5, start 1e-3) beta")
        c.close(fn(0.1, 0.0, 0.5, 1e-3), 1e-3, atol=1e-12)
        c.case(
            "half-way through the warm-up (progress 0.25 of 0.5) beta is the geometric mean sqrt(1e-3 * 0.1)"
        )
        c.close(
            fn(0.1, 0.25, 0.5, 1e-3),
            math.sqrt(1e-4),
            atol=1e-12,
            hints={
                "that is linear; the warm-up is exponential: "
                "start * (final / start) ** (progress / fraction)": (1e-3 + 0.1) / 2
            },
        )
        c.case("at the end of the warm-up (progress 0.5) beta")
        c.close(fn(0.1, 0.5, 0.5, 1e-3), 0.1, atol=1e-12)
        c.case("after the warm-up (progress 0.8) beta stays at its final value")
        c.close(fn(0.1, 0.8, 0.5, 1e-3), 0.1, atol=1e-12)
        c.case("warm-up fraction 0 (no warm-up): beta at progress 0")
        c.close(fn(0.1, 0.0, 0.0, 1e-3), 0.1, atol=1e-12)
        c.case("final 0 (SimCLR: no penalty), progress 0: beta")
        c.close(
            fn(0.0, 0.0, 0.5, 1e-3),
            0.0,
            atol=1e-12,
            hints={"it only ramps up (0 < start < final); otherwise beta is final": 1e-3},
        )
        c.case("final 1e-4 below start 1e-3: it never ramps down, beta at progress 0.1")
        c.close(fn(1e-4, 0.1, 0.5, 1e-3), 1e-4, atol=1e-12)
        c.case("start 1e-4 (not 1e-3), final 0.01, warm-up 0.5: beta at progress 0 and at 0.25")
        c.close(
            [fn(0.01, 0.0, 0.5, 1e-4), fn(0.01, 0.25, 0.5, 1e-4)],
            [1e-4, 1e-3],
            atol=1e-12,
            hints={"use the start argument; do not fix it": [1e-3, math.sqrt(1e-5)]},
        )
        c.case("ten points of the warm-up, compared with superinfo_lib.losses.exponential_warmup")
        grid = [i / 20 for i in range(10)]
        c.close(
            [fn(0.01, p, 0.5, 1e-3) for p in grid],
            [losses.exponential_warmup(0.01, p, 0.5, 1e-3) for p in grid],
            atol=1e-12,
        )
    return c.result


# ----------------------------------------------------------------------------- notebook 5: schedule


def check_lr_at(fn) -> ExerciseResult:
    """fn(step, total_steps, warmup_steps, base_lr) -> float: linear warm-up, then cosine to 0."""
    from .train import lr_at

    total, warmup, base = 100, 10, 0.2
    with _Cases("lr_at") as c:
        c.case("step 0 of a 10-step warm-up (base_lr 0.2): the first step already learns, lr = 0.2 * 1/10")
        c.close(fn(0, total, warmup, base), 0.02, hints={"use (step + 1) / warmup_steps": 0.0})
        c.case("step 4 of the warm-up: 0.2 * 5/10")
        c.close(fn(4, total, warmup, base), 0.1)
        c.case("the last warm-up step (9): base_lr")
        c.close(fn(9, total, warmup, base), base)
        c.case("the first cosine step (10): base_lr")
        c.close(fn(10, total, warmup, base), base)
        c.case("half-way through the cosine (step 55 of 100): base_lr / 2")
        c.close(
            fn(55, total, warmup, base),
            base / 2,
            hints={
                "the cosine starts after the warm-up: progress = (step - warmup) / (total - warmup)": base
                * 0.5
                * (1 + math.cos(math.pi * 0.55))
            },
        )
        c.case("the end of training (step = total_steps): the cosine ends at 0")
        c.close(
            fn(total, total, warmup, base),
            0.0,
            atol=1e-9,
            hints={
                "lr = base_lr * (1 + cos(pi * progress)) / 2 ends at 0; cos alone ends at -base_lr": -base
            },
        )
        c.case("past the end (step 120 of 100): the lr stays 0")
        c.close(
            fn(120, total, warmup, base),
            0.0,
            atol=1e-9,
            hints={"cap the progress at 1": base * 0.5 * (1 + math.cos(math.pi * 110 / 90))},
        )
        c.case("no warm-up (warmup_steps = 0): step 0 starts at base_lr")
        c.close(fn(0, total, 0, base), base)
        c.case("every step of a 30-step run with 3 warm-up steps, compared with superinfo_lib.train.lr_at")
        c.close([fn(s, 30, 3, 0.5) for s in range(31)], [lr_at(s, 30, 3, 0.5) for s in range(31)])
    return c.result


def check_epoch_means(fn) -> ExerciseResult:
    """fn(step_records, key) -> {epoch (1-based): mean of key over that epoch's logged steps},
    a step logged twice (a resumed run) counted once, by its later record."""

    def step(n, epoch, nce):
        return {"kind": "step", "step": n, "epoch": epoch, "nce": nce}

    two_epochs = [step(1, 0, 4.0), step(2, 0, 3.0), step(3, 1, 2.0), step(4, 1, 1.0)]
    resumed = two_epochs[:3] + [step(3, 1, 9.0), step(4, 1, 1.0)]  # step 3 redone after a crash

    def compare(records, expected, hints):
        actual = fn([dict(r) for r in records], "nce")
        if actual is None:
            raise NotImplementedError
        if not isinstance(actual, dict):
            c.fail(f"{c.current}: should return a dict {{epoch: mean}}, got {type(actual).__name__}")
        try:
            actual = {int(k): float(v) for k, v in actual.items()}
        except (TypeError, ValueError):
            c.fail(f"{c.current}: should map epoch numbers to numbers, got {_fmt(list(actual.items()))}")
        if set(actual) == set(expected) and all(
            math.isclose(actual[k], v, abs_tol=1e-9) for k, v in expected.items()
        ):
            return
        message = f"{c.current}: should be {expected}, got {actual}"
        for hint, wrong in hints.items():
            if set(actual) == set(wrong) and all(
                math.isclose(actual[k], v, abs_tol=1e-9) for k, v in wrong.items()
            ):
                message += f" - {hint}"
                break
        c.fail(message)

    with _Cases("epoch_means") as c:
        c.case("two epochs of two logged steps (nce 4, 3 | 2, 1)")
        compare(
            two_epochs,
            {1: 3.5, 2: 1.5},
            {
                "the records' epoch is 0-based: the first epoch is 1": {0: 3.5, 1: 1.5},
                "average the steps of each epoch, not the last step's value": {1: 3.0, 2: 1.0},
                "average each epoch's own steps, not all steps so far": {1: 3.5, 2: 2.5},
            },
        )
        c.case("one epoch, one logged step")
        compare([step(7, 0, 0.25)], {1: 0.25}, {})
        c.case("a resumed run: step 3 was logged, lost to a crash, and logged again (9.0 then 2.0)")
        compare(
            two_epochs[:2] + [step(3, 1, 9.0), step(3, 1, 2.0), step(4, 1, 1.0)],
            {1: 3.5, 2: 1.5},
            {
                "a step logged twice counts once, by its later record": {1: 3.5, 2: (9.0 + 2.0 + 1.0) / 3},
                "keep the LATER record of a repeated step (the one the resumed model carries)": {
                    1: 3.5,
                    2: 5.0,
                },
            },
        )
        c.case("the same crash, the other way round (2.0 logged first, 9.0 by the resumed run)")
        compare(
            resumed,
            {1: 3.5, 2: 5.0},
            {
                "keep the LATER record of a repeated step (the one the resumed model carries)": {
                    1: 3.5,
                    2: 1.5,
                },
                "a step logged twice counts once, by its later record": {1: 3.5, 2: (2.0 + 9.0 + 1.0) / 3},
            },
        )
    return c.result


# ----------------------------------------------------------------------------- notebook 6: evaluation


# Longer than most functions here: one case per plausible mistake, each with its own feedback.
def check_knn_predict(fn) -> ExerciseResult:
    """fn(train_features (N, F), train_labels (N,), test_features (M, F), num_classes, k,
    temperature) -> (M,) labels by weighted vote of the k nearest (cosine) training features."""
    from .eval import knn_predict

    def call(train_f, train_y, test_f, num_classes, k, t):
        pred = fn(train_f, train_y, test_f, num_classes, k=k, temperature=t)
        if pred is None:
            raise NotImplementedError
        if not isinstance(pred, torch.Tensor) or pred.shape != (len(test_f),):
            got = tuple(pred.shape) if isinstance(pred, torch.Tensor) else type(pred).__name__
            c.fail(
                f"{c.current}: should return one label per test feature, shape ({len(test_f)},), got {got}"
            )
        return pred

    def at_angle(degrees, scale=1.0):
        rad = math.radians(degrees)
        return [scale * math.cos(rad), scale * math.sin(rad)]

    with _Cases("knn_predict") as c:
        c.case("k = 1: the label of the nearest training feature")
        train_f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        train_y = torch.tensor([0, 1, 2])
        c.close(call(train_f, train_y, torch.tensor([[0.1, 0.9], [-2.0, 0.1]]), 3, 1, 0.1), [1, 2])
        c.case(
            "cosine similarity: a long feature far in angle must not win over a short one close "
            "in angle (k = 1), the prediction"
        )
        train_f = torch.tensor([at_angle(0, 0.1), at_angle(60, 10.0)])
        c.close(
            call(train_f, torch.tensor([0, 1]), torch.tensor([at_angle(10)]), 2, 1, 0.1),
            [0],
            hints={"L2-normalise the features (cosine similarity), not the raw dot product": [1]},
        )
        c.case(
            "weighted votes (k = 4, t = 0.1): one neighbour of class 0 at cos 1.0 outweighs three "
            "of class 1 at cos 0.5, since exp(1.0 / 0.1) > 3 exp(0.5 / 0.1); the prediction"
        )
        train_f = torch.tensor([at_angle(0), at_angle(60), at_angle(-60), at_angle(60)])
        c.close(
            call(train_f, torch.tensor([0, 1, 1, 1]), torch.tensor([at_angle(0)]), 2, 4, 0.1),
            [0],
            hints={"weight each vote by exp(cos / temperature), not 1 (or cos)": [1]},
        )
        c.case(
            "only the k nearest vote (k = 2, t = 1): two of class 0 near, ten of class 1 far; the prediction"
        )
        train_f = torch.tensor([at_angle(5), at_angle(-5)] + [at_angle(90)] * 10)
        train_y = torch.tensor([0, 0] + [1] * 10)
        c.close(
            call(train_f, train_y, torch.tensor([at_angle(0)]), 2, 2, 1.0),
            [0],
            hints={"keep only the k most similar training features (topk)": [1]},
        )
        c.case(
            "k larger than the training set (k = 200, 12 features, t = 0.1): all of them vote; the prediction"
        )
        c.close(call(train_f, train_y, torch.tensor([at_angle(0)]), 2, 200, 0.1), [0])
        c.case(
            "200 random test features against 500 training ones (10 classes), compared with "
            "superinfo_lib.eval.knn_predict (k = 20, t = 0.1)"
        )
        g = torch.Generator().manual_seed(0)
        train_f, test_f = torch.randn(500, 16, generator=g), torch.randn(200, 16, generator=g)
        train_y = torch.randint(10, (500,), generator=g)
        expected = knn_predict(train_f, train_y, test_f, 10, k=20, temperature=0.1)
        pred = call(train_f, train_y, test_f, 10, 20, 0.1)
        wrong = (pred.cpu() != expected).sum().item()
        if wrong:
            first = (pred.cpu() != expected).nonzero()[0].item()
            c.fail(
                f"{c.current}: {wrong} of 200 predictions differ, e.g. test feature {first}: "
                f"should be {expected[first].item()}, got {pred[first].item()}"
            )
    return c.result


def check_few_label_indices(fn) -> ExerciseResult:
    """fn(labels (N,), per_class, seed) -> indices of `per_class` random examples of each class."""
    labels = torch.arange(100) // 25  # classes 0-3, 25 examples each, in order
    with _Cases("few_label_indices") as c:
        c.case("10 per class from 4 classes of 25")
        idx = fn(labels, 10, seed=0)
        if idx is None:
            raise NotImplementedError
        if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.int64, torch.int32):
            c.fail(
                f"{c.current}: should return a tensor of integer indices, got "
                f"{idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__}"
            )
        if len(idx) and (idx.min() < 0 or idx.max() >= len(labels)):
            c.fail(f"{c.current}: indices must lie in [0, {len(labels)}), got {idx.min()}..{idx.max()}")
        counts = torch.bincount(labels[idx], minlength=4)
        c.close(counts, [10, 10, 10, 10])
        c.case("no example picked twice: 10 per class")
        if len(set(idx.tolist())) != len(idx):
            c.fail(
                f"{c.current}: {len(idx) - len(set(idx.tolist()))} indices repeat - draw without "
                "replacement (e.g. torch.randperm)"
            )
        c.case("the same seed twice gives the same subset")
        if sorted(fn(labels, 10, seed=0).tolist()) != sorted(idx.tolist()):
            c.fail(f"{c.current}, got two different ones - draw with torch.Generator().manual_seed(seed)")
        c.case("seeds 0 and 1 give different subsets (the examples are drawn at random)")
        if sorted(fn(labels, 10, seed=1).tolist()) == sorted(idx.tolist()):
            c.fail(
                f"{c.current}, got the same one twice - pick at random within each class, "
                "not the first examples"
            )
        c.case("a class with only 3 examples and per_class = 10: all 3 are taken, the others 10")
        small = torch.cat([labels, torch.full((3,), 4)])
        c.close(torch.bincount(small[fn(small, 10, seed=0)], minlength=5), [10, 10, 10, 10, 3])
    return c.result


# ----------------------------------------------------------------------------- references


def flip_horizontal(images: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images whose flag is 1. images (B, C, H, W), flip (B,) -> (B, C, H, W)."""
    return torch.where(flip.view(-1, 1, 1, 1) > 0, images.flip(-1), images)


def crop_theta(params: torch.Tensor) -> torch.Tensor:
    """Affine maps (B, 2, 3) of the crop boxes in `params` (B, 11) for `F.affine_grid`.

    affine_grid maps output coordinates (x, y) in [-1, 1] to input coordinates theta @ (x, y, 1);
    the box (centre cx, cy; size w, h, in [0, 1] image units) spans [2 cx - 1 - w, 2 cx - 1 + w]
    in [-1, 1] units. The flip is not included (`flip_horizontal` mirrors the crop afterwards;
    `data.apply_aug_params` folds it into theta as a negative x scale, which is the same map).
    """
    cx, cy, w, h = params[:, :4].T
    theta = torch.zeros(len(params), 2, 3, dtype=params.dtype, device=params.device)
    theta[:, 0, 0], theta[:, 0, 2] = w, 2 * cx - 1
    theta[:, 1, 1], theta[:, 1, 2] = h, 2 * cy - 1
    return theta


def info_nce_from_scores(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE from a critic's scores (2N, 2N): rows 0..N-1 view 1, N..2N-1 view 2, row i and
    N + i a pair; each anchor picks its positive among the 2N - 1 others. Returns a scalar."""
    two_n = scores.shape[0]
    n = two_n // 2
    masked = scores.masked_fill(torch.eye(two_n, dtype=torch.bool, device=scores.device), -math.inf)
    positive = torch.cat([torch.arange(n, two_n), torch.arange(n)]).to(scores.device)
    return F.cross_entropy(masked, positive)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """A sample z = mu + sigma * eps of N(mu, diag exp(logvar)), differentiable in mu and logvar."""
    return mu + torch.exp(0.5 * logvar) * eps
