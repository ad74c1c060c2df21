"""Chi-square checks against a reference law known only by Monte Carlo (with standard errors)."""

import numpy as np

from exact import chi_square_pvalue


def pooled_check(draws: np.ndarray, reference: np.ndarray, standard_errors: np.ndarray, n: int, floor: float = 1e-3):
    """Chi-square p-value of category draws against a Monte Carlo reference law, and the reference's noise share.

    Categories whose reference mass is below ``floor`` (some may have no hit in the
    simulation) are pooled into one.  The reference error inflates the Pearson
    statistic by about ``n Σ_c se_c² / p_c``; the second value is that inflation
    divided by the degrees of freedom (the statistic's mean under the null).
    """
    rare = reference < floor
    labels = np.where(rare, reference.size, np.arange(reference.size))
    bins, index = np.unique(labels, return_inverse=True)
    probs = np.bincount(index, weights=reference, minlength=bins.size)
    variances = np.bincount(index, weights=standard_errors**2, minlength=bins.size)
    probs = probs / probs.sum()
    share = n * float(np.sum(variances[probs > 0] / probs[probs > 0])) / max(bins.size - 1, 1)
    return chi_square_pvalue(index[draws][:, None], probs), share
