"""The exercise checks: a right answer passes; each classic wrong answer fails with a message that
says which case and what went wrong. The "right" versions below are written the way a learner
would (and as the notebooks' solution cells do), not copied from the library."""

import math

import pytest
import torch
import torch.nn.functional as F

from superinfo_lib import data, eval, exercises, losses, models, train
from superinfo_lib.exercises import use_or_fallback

# name -> (check, the library's version a notebook falls back to)
EXERCISES = {
    "flip_horizontal": (exercises.check_flip_horizontal, exercises.flip_horizontal),
    "crop_theta": (exercises.check_crop_theta, exercises.crop_theta),
    "info_nce_from_scores": (exercises.check_info_nce, exercises.info_nce_from_scores),
    "gaussian_kl": (exercises.check_gaussian_kl, losses.gaussian_kl),
    "reparameterize": (exercises.check_reparameterize, exercises.reparameterize),
    "superinfo_loss": (exercises.check_superinfo_loss, losses.superinfo_loss),
    "exponential_warmup": (exercises.check_exponential_warmup, losses.exponential_warmup),
    "lr_at": (exercises.check_lr_at, train.lr_at),
    "knn_predict": (exercises.check_knn_predict, eval.knn_predict),
    "few_label_indices": (exercises.check_few_label_indices, eval.few_label_indices),
}


def assert_fails(result, *fragments):
    assert not result.passed, f"a wrong answer passed: {result}"
    assert not result.not_implemented
    assert "\n" not in result.message
    for fragment in fragments:
        assert fragment in result.message, f"{fragment!r} not in {result.message!r}"


# ----------------------------------------------------------------------------- the machinery


def test_every_library_version_passes_its_own_check():
    for name, (check, library_fn) in EXERCISES.items():
        result = check(library_fn)
        assert result.passed, (name, result)
        assert result.message.startswith("all ") and "cases pass" in result.message


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_a_stub_is_not_implemented_yet(name):
    check, _ = EXERCISES[name]

    def stub(*args, **kwargs):
        raise NotImplementedError

    def ellipsis_stub(*args, **kwargs): ...

    for fn in (stub, ellipsis_stub):
        result = check(fn)
        assert not result.passed and result.not_implemented, result


def test_use_or_fallback_keeps_a_solved_exercise(capsys):
    figures = {}
    fn = use_or_fallback(
        "gaussian_kl", right_gaussian_kl, exercises.check_gaussian_kl, losses.gaussian_kl, figures
    )
    assert fn is right_gaussian_kl
    assert figures["exercises"] == {"gaussian_kl": "solved"}
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "solved" in out


def test_use_or_fallback_on_a_stub_says_so_in_one_line(capsys):
    def gaussian_kl(mu_a, logvar_a, mu_b, logvar_b):
        raise NotImplementedError

    figures = {"exercises": {"other": "solved"}}
    fn = use_or_fallback("kl", gaussian_kl, exercises.check_gaussian_kl, losses.gaussian_kl, figures)
    assert fn is losses.gaussian_kl
    assert figures["exercises"] == {"other": "solved", "kl": "fallback"}
    assert capsys.readouterr().out == (
        "exercise 'kl' not solved yet: using superinfo_lib.losses.gaussian_kl for the rest of the notebook\n"
    )


def test_use_or_fallback_on_a_wrong_answer_names_the_failing_case(capsys):
    fn = use_or_fallback("gaussian_kl", swapped_kl, exercises.check_gaussian_kl, losses.gaussian_kl)
    assert fn is losses.gaussian_kl
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "logvar 1 and 2: should be 0.1839, got 0.3591" in out and "swapped" in out


def test_an_exception_in_the_answer_is_reported_not_raised():
    def broken(mu_a, logvar_a, mu_b, logvar_b):
        return mu_a @ logvar_b  # shapes (N, K) @ (N, K) do not multiply

    assert_fails(exercises.check_gaussian_kl(broken), "KL of identical Gaussians: raised RuntimeError")


# ----------------------------------------------------------------------------- notebook 1


def right_flip(images, flip):
    mirrored = images.flip(-1)
    return torch.where(flip.view(-1, 1, 1, 1) > 0, mirrored, images)


def right_crop_theta(params):
    cx, cy, w, h = params[:, 0], params[:, 1], params[:, 2], params[:, 3]
    zero = torch.zeros_like(w)
    return torch.stack([torch.stack([w, zero, 2 * cx - 1], 1), torch.stack([zero, h, 2 * cy - 1], 1)], 1)


def test_flip_check():
    assert exercises.check_flip_horizontal(right_flip).passed

    def whole_batch(images, flip):  # one coin for the batch: the classic bug
        return images.flip(-1) if flip.any() else images

    assert_fails(
        exercises.check_flip_horizontal(whole_batch),
        "with flip = [1, 0, 0, 1], image 1 (flag 0) should be unchanged, but it is mirrored",
        "per sample",
    )

    def upside_down(images, flip):
        return torch.where(flip.view(-1, 1, 1, 1) > 0, images.flip(-2), images)

    assert_fails(exercises.check_flip_horizontal(upside_down), "image 0 (flag 1)", "upside down")

    def in_place(images, flip):
        for i in range(len(images)):
            if flip[i]:
                images[i] = images[i].flip(-1)
        return images

    assert_fails(exercises.check_flip_horizontal(in_place), "changed in place")


def test_crop_theta_check():
    assert exercises.check_crop_theta(right_crop_theta).passed

    def centre_not_shifted(params):
        theta = right_crop_theta(params)
        theta[:, 0, 2], theta[:, 1, 2] = params[:, 0], params[:, 1]
        return theta

    assert_fails(
        exercises.check_crop_theta(centre_not_shifted),
        "the whole image",
        "should be [[[1, 0, 0], [0, 1, 0]]], got [[[1, 0, 0.5], [0, 1, 0.5]]]",
        "2 * cx - 1",
    )

    def half_scale(params):
        theta = right_crop_theta(params)
        theta[:, 0, 0], theta[:, 1, 1] = params[:, 2] / 2, params[:, 3] / 2
        return theta

    assert_fails(exercises.check_crop_theta(half_scale), "the whole image", "the scale is w itself")

    def axes_swapped(params):
        return right_crop_theta(params[:, [1, 0, 3, 2] + list(range(4, 11))])

    assert_fails(exercises.check_crop_theta(axes_swapped), "the left half", "row 0 is x")

    def with_flip(params):  # copied from apply_aug_params: flips twice later
        theta = right_crop_theta(params)
        theta[:, 0, 0] = theta[:, 0, 0] * (1 - 2 * params[:, 4])
        return theta

    assert_fails(exercises.check_crop_theta(with_flip), "flipped box", "leave the flip out")


def test_crop_and_flip_references_rebuild_the_library_views():
    """flip(crop(x)) with the references equals apply_aug_params with the colour jitter turned off."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=g)
    params = data.sample_aug_params(6, data.AugmentConfig(), g)
    params[:, 4] = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    params[:, 5:] = torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0, 0.0])  # no jitter, factors 1, no grayscale
    library = data.apply_aug_params(images, params)
    x = images.float() / 255
    grid = F.affine_grid(exercises.crop_theta(params), (6, 3, 32, 32), align_corners=False)
    cropped = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    ours = data.normalize(exercises.flip_horizontal(cropped, params[:, 4]) * 255)
    torch.testing.assert_close(ours, library, atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- notebook 2


def right_info_nce_loop(scores):
    two_n = scores.shape[0]
    n = two_n // 2
    total = 0.0
    for a in range(two_n):
        positive = a + n if a < n else a - n
        others = [b for b in range(two_n) if b != a]
        total = total - (scores[a, positive] - torch.logsumexp(scores[a, others], dim=0))
    return total / two_n


def test_info_nce_check():
    assert exercises.check_info_nce(right_info_nce_loop).passed
    assert exercises.check_info_nce(exercises.info_nce_from_scores).passed

    def no_self_mask(scores):
        n = len(scores) // 2
        return F.cross_entropy(scores, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))

    assert_fails(exercises.check_info_nce(no_self_mask), "one pair (N = 1)", "should be 0", "exclude b = a")

    def summed(scores):
        return exercises.info_nce_from_scores(scores) * len(scores)

    assert_fails(exercises.check_info_nce(summed), "average over the 2N anchors")

    def view_one_anchors_only(scores):
        n = len(scores) // 2
        masked = scores.masked_fill(torch.eye(2 * n, dtype=torch.bool), -math.inf)
        return F.cross_entropy(masked[:n], torch.arange(n, 2 * n))

    assert_fails(exercises.check_info_nce(view_one_anchors_only), "random scores, N = 3", "view 2's rows too")

    def adjacent_pairs(scores):  # rows 2i and 2i + 1 taken as the pairs
        two_n = len(scores)
        masked = scores.masked_fill(torch.eye(two_n, dtype=torch.bool), -math.inf)
        return F.cross_entropy(masked, torch.arange(two_n) ^ 1)

    assert_fails(exercises.check_info_nce(adjacent_pairs), "random scores, N = 3", "should be")

    def as_float(scores):
        return exercises.info_nce_from_scores(scores).item()

    assert_fails(exercises.check_info_nce(as_float), "should return a torch tensor", "got float")

    def rebuilt_from_item(scores):  # a tensor again, but made of values: no gradient reaches the scores
        return torch.tensor(exercises.info_nce_from_scores(scores).item(), dtype=scores.dtype)

    assert_fails(
        exercises.check_info_nce(rebuilt_from_item), "the gradient", "carries no gradient", ".item()"
    )


def test_info_nce_from_scores_matches_the_library_on_cosine_scores():
    g = torch.Generator().manual_seed(0)
    for n, d, tau in ((2, 3, 0.5), (33, 7, 1.0)):
        p1 = torch.randn(n, d, generator=g, dtype=torch.float64)
        p2 = torch.randn(n, d, generator=g, dtype=torch.float64)
        u = F.normalize(torch.cat([p1, p2]), dim=1)
        scores = u @ u.T / tau
        torch.testing.assert_close(exercises.info_nce_from_scores(scores), losses.info_nce(p1, p2, tau))


# ----------------------------------------------------------------------------- notebook 3


def right_gaussian_kl(mu_a, logvar_a, mu_b, logvar_b):
    var_a, var_b = logvar_a.exp(), logvar_b.exp()
    per_dim = logvar_b - logvar_a + (var_a + (mu_a - mu_b) ** 2) / var_b - 1
    return 0.5 * per_dim.sum(dim=1)


def swapped_kl(mu_a, logvar_a, mu_b, logvar_b):
    return right_gaussian_kl(mu_b, logvar_b, mu_a, logvar_a)


def right_reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


def test_gaussian_kl_check():
    assert exercises.check_gaussian_kl(right_gaussian_kl).passed
    assert_fails(
        exercises.check_gaussian_kl(swapped_kl),
        "KL(N(0, e) || N(0, e^2)), logvar 1 and 2: should be 0.1839, got 0.3591",
        "are a and b swapped?",
    )

    def mean_over_dims(mu_a, logvar_a, mu_b, logvar_b):
        return right_gaussian_kl(mu_a, logvar_a, mu_b, logvar_b) / mu_a.shape[1]

    assert_fails(
        exercises.check_gaussian_kl(mean_over_dims),
        "two dimensions",
        "should be 1, got 0.5",
        "mean over dimensions",
    )

    def batch_mean(mu_a, logvar_a, mu_b, logvar_b):
        return right_gaussian_kl(mu_a, logvar_a, mu_b, logvar_b).mean()

    assert_fails(exercises.check_gaussian_kl(batch_mean), "should have shape (3,), got ()")

    def forgets_the_minus_one(mu_a, logvar_a, mu_b, logvar_b):
        var_a, var_b = logvar_a.exp(), logvar_b.exp()
        return 0.5 * (logvar_b - logvar_a + (var_a + (mu_a - mu_b) ** 2) / var_b).sum(dim=1)

    assert_fails(
        exercises.check_gaussian_kl(forgets_the_minus_one),
        "KL of identical Gaussians: should be [0, 0, 0]",
        "got [2, 2, 2]",
    )

    def logvar_as_variance(mu_a, logvar_a, mu_b, logvar_b):  # NaN wherever logvar < 0
        per_dim = logvar_b.log() - logvar_a.log() + (logvar_a + (mu_a - mu_b) ** 2) / logvar_b - 1
        return 0.5 * per_dim.sum(dim=1)

    assert_fails(
        exercises.check_gaussian_kl(logvar_as_variance),
        "KL of identical Gaussians",
        "not a finite number",
        "logvar is a log-variance",
    )

    def logvar_as_variance_ratio(mu_a, logvar_a, mu_b, logvar_b):  # finite where logvar > 0
        per_dim = (logvar_b / logvar_a).log() + (logvar_a + (mu_a - mu_b) ** 2) / logvar_b - 1
        return 0.5 * per_dim.sum(dim=1)

    assert_fails(
        exercises.check_gaussian_kl(logvar_as_variance_ratio),
        "logvar 1 and 2",
        "logvar is a log-variance",
    )

    def no_variance_ratio(mu_a, logvar_a, mu_b, logvar_b):
        per_dim = logvar_b - logvar_a + (1 + (mu_a - mu_b) ** 2 / logvar_b.exp()) - 1
        return 0.5 * per_dim.sum(dim=1)

    assert_fails(
        exercises.check_gaussian_kl(no_variance_ratio), "the variance ratio var_a / var_b is missing"
    )


def test_reparameterize_check():
    assert exercises.check_reparameterize(right_reparameterize).passed

    def variance_not_std(mu, logvar, eps):
        return mu + torch.exp(logvar) * eps

    assert_fails(
        exercises.check_reparameterize(variance_not_std),
        "variance 4",
        "should be 2, got 4",
        "exp(logvar / 2)",
    )

    def detached(mu, logvar, eps):
        return (mu + torch.exp(0.5 * logvar) * eps).detach()

    assert_fails(exercises.check_reparameterize(detached), "gradients", "no gradient")

    def sampled_by_torch(mu, logvar, eps):  # draws its own noise: ignores eps
        return torch.normal(mu, torch.exp(0.5 * logvar))

    assert_fails(exercises.check_reparameterize(sampled_by_torch), "with eps = 0")


def test_reparameterize_reference_is_the_models_sample():
    model = models.SuperInfoModel("small", latent_dim=8).eval()
    x = torch.randn(4, 3, 32, 32)
    out = model(x, generator=torch.Generator().manual_seed(3))
    eps = torch.randn(out["mu"].shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(exercises.reparameterize(out["mu"], out["logvar"], eps), out["z"])


# ----------------------------------------------------------------------------- notebook 4


def right_superinfo_loss(p1, p2, mu1, logvar1, mu2, logvar2, *, lambda_pred, beta_12, beta_21, temperature):
    nce = losses.info_nce(p1, p2, temperature)
    kl_12 = losses.gaussian_kl(mu1, logvar1, mu2, logvar2).mean()
    kl_21 = losses.gaussian_kl(mu2, logvar2, mu1, logvar1).mean()
    loss = lambda_pred * nce + beta_12 * kl_12 + beta_21 * kl_21
    return {"loss": loss, "nce": nce, "kl_12": kl_12, "kl_21": kl_21}


def right_exponential_warmup(final, progress, warmup_fraction, start):
    if warmup_fraction <= 0 or progress >= warmup_fraction or not 0 < start < final:
        return final
    return start * (final / start) ** (progress / warmup_fraction)


def test_superinfo_loss_check():
    assert exercises.check_superinfo_loss(right_superinfo_loss).passed

    def directions_swapped(*args, beta_12, beta_21, **kwargs):
        return right_superinfo_loss(*args, beta_12=beta_21, beta_21=beta_12, **kwargs)

    assert_fails(exercises.check_superinfo_loss(directions_swapped), "beta_12 = 1", "are they swapped?")

    def kl_summed(p1, p2, mu1, logvar1, mu2, logvar2, *, lambda_pred, beta_12, beta_21, temperature):
        terms = right_superinfo_loss(
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
        n = len(p1)
        terms["loss"] = lambda_pred * terms["nce"] + n * (beta_12 * terms["kl_12"] + beta_21 * terms["kl_21"])
        return terms

    assert_fails(exercises.check_superinfo_loss(kl_summed), "mean KL(q1 || q2)", "do not sum")

    def lambda_ignored(*args, lambda_pred, **kwargs):
        return right_superinfo_loss(*args, lambda_pred=1.0, **kwargs)

    assert_fails(exercises.check_superinfo_loss(lambda_ignored), "lambda_pred = 2")

    def total_only(*args, **kwargs):
        return right_superinfo_loss(*args, **kwargs)["loss"]

    assert_fails(exercises.check_superinfo_loss(total_only), "should return a dict with keys loss, nce")

    def fixed_temperature(*args, temperature, **kwargs):
        return right_superinfo_loss(*args, temperature=0.5, **kwargs)

    assert_fails(exercises.check_superinfo_loss(fixed_temperature), "temperature 0.2", "do not fix it")


def test_exponential_warmup_check():
    assert exercises.check_exponential_warmup(right_exponential_warmup).passed

    def linear(final, progress, warmup_fraction, start):
        if warmup_fraction <= 0 or progress >= warmup_fraction or not 0 < start < final:
            return final
        return start + (final - start) * progress / warmup_fraction

    assert_fails(exercises.check_exponential_warmup(linear), "half-way", "that is linear")

    def ramps_even_to_zero(final, progress, warmup_fraction, start):
        if warmup_fraction <= 0 or progress >= warmup_fraction:
            return final
        return start * (final / start) ** (progress / warmup_fraction)

    assert_fails(
        exercises.check_exponential_warmup(ramps_even_to_zero),
        "final 0 (SimCLR",
        "should be 0, got 0.001",
        "only ramps up",
    )

    def no_hold(final, progress, warmup_fraction, start):  # keeps growing past the warm-up
        if warmup_fraction <= 0 or not 0 < start < final:
            return final
        return start * (final / start) ** (progress / warmup_fraction)

    assert_fails(exercises.check_exponential_warmup(no_hold), "after the warm-up (progress 0.8)")

    def fixed_start(final, progress, warmup_fraction, start):
        return right_exponential_warmup(final, progress, warmup_fraction, 1e-3)

    assert_fails(exercises.check_exponential_warmup(fixed_start), "start 1e-4", "use the start argument")


# ----------------------------------------------------------------------------- notebook 5


def right_lr_at(step, total_steps, warmup_steps, base_lr):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return base_lr * 0.5 * (1 + math.cos(math.pi * progress))


def test_lr_at_check():
    assert exercises.check_lr_at(right_lr_at).passed

    def starts_at_zero(step, total_steps, warmup_steps, base_lr):
        if step < warmup_steps:
            return base_lr * step / warmup_steps
        return right_lr_at(step, total_steps, warmup_steps, base_lr)

    assert_fails(exercises.check_lr_at(starts_at_zero), "step 0 of a 10-step warm-up", "(step + 1)")

    def cosine_to_minus_base(step, total_steps, warmup_steps, base_lr):
        if step < warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return base_lr * math.cos(math.pi * progress)

    assert_fails(exercises.check_lr_at(cosine_to_minus_base), "half-way through the cosine")

    def ends_at_minus_base(step, total_steps, warmup_steps, base_lr):  # right middle, wrong end
        lr = right_lr_at(step, total_steps, warmup_steps, base_lr)
        return -base_lr if step >= total_steps else lr

    assert_fails(
        exercises.check_lr_at(ends_at_minus_base),
        "the end of training",
        "should be 0, got -0.2",
        "cos alone ends at -base_lr",
    )

    def cosine_over_all_steps(step, total_steps, warmup_steps, base_lr):
        if step < warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total_steps)))

    assert_fails(exercises.check_lr_at(cosine_over_all_steps), "the first cosine step (10)")

    def uncapped(step, total_steps, warmup_steps, base_lr):
        if step < warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return base_lr * 0.5 * (1 + math.cos(math.pi * progress))

    assert_fails(exercises.check_lr_at(uncapped), "past the end", "cap the progress at 1")

    def divides_by_warmup(step, total_steps, warmup_steps, base_lr):
        if step <= warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        return right_lr_at(step, total_steps, warmup_steps, base_lr)

    assert_fails(exercises.check_lr_at(divides_by_warmup), "the first cosine step")

    def warmup_factor(step, total_steps, warmup_steps, base_lr):  # right, but divides by warmup_steps
        ramp = min(1.0, (step + 1) / warmup_steps)
        progress = min(1.0, max(0, step - warmup_steps) / (total_steps - warmup_steps))
        return base_lr * ramp * 0.5 * (1 + math.cos(math.pi * progress))

    assert_fails(exercises.check_lr_at(warmup_factor), "no warm-up (warmup_steps = 0)", "ZeroDivisionError")


# ----------------------------------------------------------------------------- notebook 6


def right_knn_predict(train_features, train_labels, test_features, num_classes, k=200, temperature=0.1):
    train_f = F.normalize(train_features.float(), dim=1)
    test_f = F.normalize(test_features.float(), dim=1)
    sim, idx = (test_f @ train_f.T).topk(min(k, len(train_f)), dim=1)
    votes = torch.zeros(len(test_f), num_classes)
    votes.scatter_add_(1, train_labels[idx], (sim / temperature).exp())
    return votes.argmax(1)


def right_few_label_indices(labels, per_class, seed=0):
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in labels.unique():
        members = (labels == c).nonzero().flatten()
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.cat(picks)


def test_knn_predict_check():
    assert exercises.check_knn_predict(right_knn_predict).passed

    def unweighted(train_features, train_labels, test_features, num_classes, k=200, temperature=0.1):
        train_f, test_f = F.normalize(train_features, dim=1), F.normalize(test_features, dim=1)
        _, idx = (test_f @ train_f.T).topk(min(k, len(train_f)), dim=1)
        votes = torch.zeros(len(test_f), num_classes).scatter_add_(
            1, train_labels[idx], torch.ones(idx.shape)
        )
        return votes.argmax(1)

    assert_fails(
        exercises.check_knn_predict(unweighted),
        "weighted votes (k = 4, t = 0.1)",
        "should be 0, got 1",
        "exp(cos / temperature)",
    )

    def raw_dot_product(train_features, train_labels, test_features, num_classes, k=200, temperature=0.1):
        sim, idx = (test_features @ train_features.T).topk(min(k, len(train_features)), dim=1)
        votes = torch.zeros(len(test_features), num_classes)
        return votes.scatter_add_(1, train_labels[idx], (sim / temperature).exp()).argmax(1)

    assert_fails(exercises.check_knn_predict(raw_dot_product), "cosine similarity", "L2-normalise")

    def everyone_votes(train_features, train_labels, test_features, num_classes, k=200, temperature=0.1):
        return right_knn_predict(
            train_features, train_labels, test_features, num_classes, len(train_features), temperature
        )

    assert_fails(exercises.check_knn_predict(everyone_votes), "only the k nearest vote", "topk")

    def k_not_capped(train_features, train_labels, test_features, num_classes, k=200, temperature=0.1):
        train_f, test_f = F.normalize(train_features, dim=1), F.normalize(test_features, dim=1)
        sim, idx = (test_f @ train_f.T).topk(k, dim=1)
        votes = torch.zeros(len(test_f), num_classes)
        return votes.scatter_add_(1, train_labels[idx], (sim / temperature).exp()).argmax(1)

    assert_fails(exercises.check_knn_predict(k_not_capped), "k larger than the training set", "raised")


def test_few_label_indices_check():
    assert exercises.check_few_label_indices(right_few_label_indices).passed

    def first_overall(labels, per_class, seed=0):
        return torch.arange(per_class * len(labels.unique()))

    assert_fails(
        exercises.check_few_label_indices(first_overall),
        "10 per class from 4 classes of 25: should be [10, 10, 10, 10], got [25, 15, 0, 0]",
    )

    def with_replacement(labels, per_class, seed=0):
        g = torch.Generator().manual_seed(seed)
        picks = [(labels == c).nonzero().flatten() for c in labels.unique()]
        return torch.cat([m[torch.randint(len(m), (per_class,), generator=g)] for m in picks])

    assert_fails(exercises.check_few_label_indices(with_replacement), "repeat", "without replacement")

    def first_of_each_class(labels, per_class, seed=0):
        return torch.cat([(labels == c).nonzero().flatten()[:per_class] for c in labels.unique()])

    assert_fails(exercises.check_few_label_indices(first_of_each_class), "seeds 0 and 1", "pick at random")

    def global_rng(labels, per_class, seed=0):  # ignores the seed
        return torch.cat(
            [
                m[torch.randperm(len(m))[:per_class]]
                for m in ((labels == c).nonzero().flatten() for c in labels.unique())
            ]
        )

    assert_fails(exercises.check_few_label_indices(global_rng), "the same seed twice")


def test_epoch_means_check_accepts_the_library_and_names_each_plausible_mistake():
    from superinfo_lib.metrics import epoch_means

    assert exercises.check_epoch_means(epoch_means).passed

    def zero_based(records, key):
        return {e - 1: v for e, v in epoch_means(records, key).items()}

    assert_fails(exercises.check_epoch_means(zero_based), "two epochs", "0-based")

    def last_step(records, key):
        return {r["epoch"] + 1: r[key] for r in records}

    assert_fails(exercises.check_epoch_means(last_step), "two epochs", "not the last step")

    def running_mean(records, key):
        out, seen = {}, []
        for r in records:
            seen.append(r[key])
            out[r["epoch"] + 1] = sum(seen) / len(seen)
        return out

    assert_fails(exercises.check_epoch_means(running_mean), "two epochs", "not all steps so far")

    def every_record(records, key):  # right until a step is logged twice
        sums = {}
        for r in records:
            sums.setdefault(r["epoch"] + 1, []).append(r[key])
        return {e: sum(v) / len(v) for e, v in sums.items()}

    assert_fails(exercises.check_epoch_means(every_record), "a resumed run", "counts once")

    def first_record(records, key):
        return epoch_means(list(reversed(records)), key)  # the earlier record of a repeat wins

    assert_fails(exercises.check_epoch_means(first_record), "a resumed run", "LATER record")
    assert exercises.check_epoch_means(lambda records, key: None).not_implemented
