#!/usr/bin/env bash
# The bug classes docs/mutation.md lists ("Bug classes ... the default suite now catches"): each one is
# applied to the library as a small patch, and the default-suite tests meant to catch it must fail.
#
#     bash tools/bug_classes.sh [ROW_REGEX]        # from the repository root, on a clean tree
#     DRY_RUN=1 bash tools/bug_classes.sh          # only check that every patch applies and is undone
#
# For each row: apply the bug as a small patch to the library source (exact string replacement that must
# match exactly once; the file must then differ from HEAD), run ONLY the test(s) meant to catch it with the
# default pytest options (addopts: -m 'not slow') and the default Hypothesis profile ("ci"), record
#     FAIL(caught)  pytest exit 1 with a failing test in the log   /  PASS(missed)  exit 0,
# then restore the file with `git checkout -- <file>`.  Before the rows: a baseline run of every catching
# test on the unpatched tree (must pass, none skipped or deselected: they are in the default suite).
# After the rows: `git diff --quiet` (the tree is restored) and a table.  Logs: $LOG_DIR (default: a temp dir).
set -u
PY=${PY:-.venv/bin/python}
ONLY=${1:-.}
ROOT=$(git rev-parse --show-toplevel) || exit 2
cd "$ROOT" || exit 2
LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/bugclasses.XXXXXX)}
mkdir -p "$LOG_DIR"
unset HYPOTHESIS_PROFILE CI  # the default profile (tests/conftest.py: "ci", derandomised)
if ! git diff --quiet || ! git diff --cached --quiet; then
    echo "refusing to run: the worktree has uncommitted changes" >&2
    exit 2
fi
trap 'git checkout -- exact llm proofs_check 2>/dev/null' EXIT INT TERM  # never leave a patch behind

pytest_run() { nice -n 10 "$PY" -m pytest -q -x -p no:cacheprovider "$@"; }

# sub FILE OLD NEW: replace the one occurrence of OLD in FILE by NEW (fails unless OLD occurs exactly once)
sub() {
    "$PY" - "$@" <<'EOF'
import pathlib, sys
path, old, new = sys.argv[1:4]
p = pathlib.Path(path)
text = p.read_text()
if text.count(old) != 1:
    sys.exit(f"patch does not apply: {old!r} occurs {text.count(old)} times in {path}")
p.write_text(text.replace(old, new))
EOF
}

ROWS=()     # "id|bug|file|patch (one line)|tests (space separated)"
add() { ROWS+=("$1|$2|$3|$4|$5"); }

# ---- the bug classes (each with its patch function patch_<id>) ------------------------------------------
T_IMP="tests/exact/test_importance.py::test_non_covering_proposal_matches_brute_force"
add prop2_var "Prop. 2 ESS/N = 1/(1+Var) instead of 1/(1+CV²)" exact/importance.py \
    "ess_fraction=1.0 / (1.0 + cv2) -> 1.0 / (1.0 + variance)" "$T_IMP"
patch_prop2_var() { sub exact/importance.py "ess_fraction=1.0 / (1.0 + cv2)" "ess_fraction=1.0 / (1.0 + variance)"; }

add prop2_cv2 "Prop. 2 CV² without squaring the mean" exact/importance.py \
    "expm1(log_second - 2 * log_mean) -> expm1(log_second - log_mean)" "$T_IMP"
patch_prop2_cv2() { sub exact/importance.py "np.expm1(log_second - 2 * log_mean)" "np.expm1(log_second - log_mean)"; }

T_GOF="tests/exact/test_goodness.py::test_a_draw_of_probability_zero_gives_p_zero_and_infinite_statistic tests/exact/test_goodness.py::test_an_impossible_draw_among_a_perfect_fit_still_gives_p_zero"
add gof_p1 "goodness_of_fit: impossible draw gives p = 1 instead of 0" exact/_goodness.py \
    "SamplerCheck(np.inf, 0.0, ...) -> SamplerCheck(np.inf, 1.0, ...)" "$T_GOF"
patch_gof_p1() { sub exact/_goodness.py "SamplerCheck(np.inf, 0.0, dof" "SamplerCheck(np.inf, 1.0, dof"; }

add gof_stat "goodness_of_fit: impossible draw gives a finite statistic (0) instead of inf" exact/_goodness.py \
    "SamplerCheck(np.inf, 0.0, ...) -> SamplerCheck(0.0, 0.0, ...)" "$T_GOF"
patch_gof_stat() { sub exact/_goodness.py "SamplerCheck(np.inf, 0.0, dof" "SamplerCheck(0.0, 0.0, dof"; }

add gof_ignored "goodness_of_fit: impossible draws ignored (pooled test over the support only)" exact/_goodness.py \
    "if np.any(counts[expected == 0] > 0): -> if False:" "$T_GOF"
patch_gof_ignored() { sub exact/_goodness.py "if np.any(counts[expected == 0] > 0):" "if False:"; }

T_KIT="tests/exact/test_goodness.py::test_false_alarm_rate_of_the_kit_is_its_alpha_level"
add kit_x10 "kit rejection level 10x too high" exact/testing/assertions.py \
    "if result.p_value < alpha_level: -> < 10 * alpha_level" "$T_KIT"
patch_kit_x10() { sub exact/testing/assertions.py "if result.p_value < alpha_level:" "if result.p_value < 10 * alpha_level:"; }

add kit_div10 "kit rejection level 10x too low" exact/testing/assertions.py \
    "if result.p_value < alpha_level: -> < alpha_level / 10" "$T_KIT"
patch_kit_div10() { sub exact/testing/assertions.py "if result.p_value < alpha_level:" "if result.p_value < alpha_level / 10:"; }

add tv_doubled "distillation TV curve doubled" exact/policy.py \
    "0.5 * np.abs(q_hat - target).sum() -> np.abs(q_hat - target).sum()" \
    "tests/exact/test_policy.py::test_distillation_curve_values_match_brute_force"
patch_tv_doubled() { sub exact/policy.py "0.5 * np.abs(q_hat - target).sum()" "np.abs(q_hat - target).sum()"; }

add sharp_ulp "sharpening_mass: argmax ties a few ulps apart not ties" exact/sharpening.py \
    "mask = log_p >= np.max(log_p) - tol -> mask = log_p >= np.max(log_p)  (in sharpening_mass)" \
    "tests/exact/test_sharpening.py::test_sharpening_mass_is_eq30_monotone_and_tends_to_one tests/exact/test_sharpening.py::test_ulp_ties_are_one_argmax_set_and_the_mass_tends_to_one"
patch_sharp_ulp() { sub exact/sharpening.py "        mask = log_p >= np.max(log_p) - tol" "        mask = log_p >= np.max(log_p)"; }

T_INF="tests/exact/test_samplers_mh.py::test_power_infinity_never_accepts_a_tie"
add powinf_kernel "exact Power(∞) kernel accepts ties (>= for >)" exact/samplers/mh.py \
    "target' > target + GREEDY_TIE_LOG_TOL -> target' >= target - GREEDY_TIE_LOG_TOL" "$T_INF"
patch_powinf_kernel() { sub exact/samplers/mh.py "> target[:, :, None] + GREEDY_TIE_LOG_TOL" ">= target[:, :, None] - GREEDY_TIE_LOG_TOL"; }

add powinf_llm "llm Power(∞) simulation accepts ties (>= for >)" llm/samplers/mh.py \
    "accept = log_target > GREEDY_TIE_LOG_TOL -> log_target >= -GREEDY_TIE_LOG_TOL" "$T_INF"
patch_powinf_llm() { sub llm/samplers/mh.py "accept = log_target > GREEDY_TIE_LOG_TOL" "accept = log_target >= -GREEDY_TIE_LOG_TOL"; }

add smc_exact "exact Power-SMC evidence ignores carried weights (partial resampling)" exact/samplers/smc.py \
    "log_z += lse(log_w + log_inc) - lse(log_w) -> lse(log_inc) - log N" \
    "tests/exact/test_samplers_smc.py::test_power_smc_unnormalised_estimates_are_unbiased[False-0.5-base-4.0] tests/exact/test_samplers_smc.py::test_power_smc_unnormalised_estimates_are_unbiased[True-0.5-base-4.0]"
patch_smc_exact() {
    sub exact/samplers/smc.py "log_z += logsumexp(log_w + log_inc, axis=1) - logsumexp(log_w, axis=1)" \
        "log_z += logsumexp(log_inc, axis=1) - np.log(N)"
}

add smc_llm "llm Power-SMC evidence ignores carried weights (partial resampling)" llm/samplers/smc.py \
    "evidence += lse(w_t) - log N per step (w_t: this step's increment) instead of lse(W) - log N at each resampling and at the end" \
    "tests/llm/test_samplers_toy.py::test_smc_evidence_and_weighted_particles_are_unbiased[1.0-0.5]"
patch_smc_llm() {
    local f=llm/samplers/smc.py
    sub $f "            log_w = log_w + (alpha * raw_t - out.processed[:, 0])" \
"            log_inc = alpha * raw_t - out.processed[:, 0]
            log_evidence += float(torch.logsumexp(log_inc, 0)) - math.log(N)
            log_w = log_w + log_inc" &&
    sub $f "                log_evidence += float(torch.logsumexp(log_w, 0)) - math.log(N)
" "" &&
    sub $f "        log_evidence += float(torch.logsumexp(log_w, 0)) - math.log(N)
" ""
}

add bon_llm "llm Best-of-N ranks by summed, not length-normalised, self-reward" llm/samplers/bon.py \
    "rewards = pool.mean_logprob.view(...) -> pool.log_likelihood.view(...)" \
    "tests/llm/test_exact_laws_by_backend.py::test_best_of_n_matches_its_exact_law[toy-4-1.0-10] tests/llm/test_exact_laws_by_backend.py::test_best_of_n_matches_its_exact_law[toy-3-0.7-11]"
patch_bon_llm() { sub llm/samplers/bon.py "rewards = pool.mean_logprob.view(" "rewards = pool.log_likelihood.view("; }

add bon_exact "exact Best-of-N law ranks by summed self-reward" exact/samplers/bon.py \
    "return log_joint / lengths -> return log_joint" \
    "tests/exact/test_samplers_bon.py::test_best_of_n_matches_brute_force tests/exact/test_samplers_bon.py::test_length_normalisation_matters_under_eos"
patch_bon_exact() { sub exact/samplers/bon.py "    return log_joint / lengths" "    return log_joint"; }

T_SE="tests/llm/test_estimators_toy.py::test_standard_errors_match_the_spread_over_seeds"
add se_x20 "estimator standard errors 20x too large" llm/estimators.py \
    "se_rel = w.std(1, unbiased=True) / sqrt(M) -> 20 * w.std(...) / sqrt(M)" "$T_SE"
patch_se_x20() { sub llm/estimators.py "se_rel = w.std(1, unbiased=True) / math.sqrt(M)" "se_rel = 20 * w.std(1, unbiased=True) / math.sqrt(M)"; }

add se_sqrtM "estimator standard errors without the 1/sqrt(M)" llm/estimators.py \
    "se_rel = w.std(1, unbiased=True) / sqrt(M) -> w.std(1, unbiased=True)" "$T_SE"
patch_se_sqrtM() { sub llm/estimators.py "se_rel = w.std(1, unbiased=True) / math.sqrt(M)" "se_rel = w.std(1, unbiased=True)"; }

add slope_sign "llm.slope reweighting exponent with the wrong sign" llm/slope.py \
    "logw = delta * (s - s.max()) -> logw = -delta * (s - s.max())" \
    "tests/llm/test_slope.py::test_reweighted_reward_at_another_exponent_matches_the_exact_reward"
patch_slope_sign() { sub llm/slope.py "logw = delta * (s - s.max())" "logw = -delta * (s - s.max())"; }

T_THM="tests/proofs_check/test_proofs_check.py::test_check_passes[sps_theorem31] tests/proofs_check/test_proofs_check.py::test_a_broken_paper_formula_fails_its_check[sps_theorem31/definition] tests/proofs_check/test_proofs_check.py::test_a_broken_paper_formula_fails_its_check[sps_theorem31/zeta_scale] tests/proofs_check/test_proofs_check.py::test_a_broken_paper_formula_fails_its_check[sps_theorem31/zeta_weight]"
# the break that sees a tautological first identity whatever sympy proves (branch s6-h); used where present
grep -q '"sps_theorem31/definition_no_power"' tests/proofs_check/test_proofs_check.py &&
    T_THM="$T_THM tests/proofs_check/test_proofs_check.py::test_a_broken_paper_formula_fails_its_check[sps_theorem31/definition_no_power]"
add thm31_ratio "proofs_check Thm 3.1: identity 1 (definition = p^α ζ / Σ) tautological" proofs_check/power_conditionals.py \
    "vanishes(definition[s] - scores[s] / total) -> vanishes(scores[s] / total - scores[s] / total)" "$T_THM"
patch_thm31_ratio() { sub proofs_check/power_conditionals.py "vanishes(definition[s] - scores[s] / total)" "vanishes(scores[s] / total - scores[s] / total)"; }

# the same bug against the mathematically robust break alone (s6-h; skipped where that break is absent)
if grep -q '"sps_theorem31/definition_no_power"' tests/proofs_check/test_proofs_check.py; then
    add thm31_ratio_np "same as thm31_ratio, run against the exponent-dropped definition break alone" proofs_check/power_conditionals.py \
        "as thm31_ratio" \
        "tests/proofs_check/test_proofs_check.py::test_a_broken_paper_formula_fails_its_check[sps_theorem31/definition_no_power]"
fi
patch_thm31_ratio_np() { patch_thm31_ratio; }

add thm31_zeta "proofs_check Thm 3.1: identity 2 (ζ = Σ q_s^α) tautological" proofs_check/power_conditionals.py \
    "vanishes(zeta(q[s]) - Σ q[s]^α) -> vanishes(zeta(q[s]) - zeta(q[s]))" "$T_THM"
patch_thm31_zeta() {
    sub proofs_check/power_conditionals.py "vanishes(zeta(q[s], ALPHA) - sp.Add(*(v**ALPHA for v in q[s])))" \
        "vanishes(zeta(q[s], ALPHA) - zeta(q[s], ALPHA))"
}

add rational_tol "proofs_check exact-rational tolerance 1e-12 -> 1e-4" proofs_check/rational.py \
    "REL_TOL = 1e-12 -> REL_TOL = 1e-4" \
    "tests/proofs_check/test_proofs_check.py::test_a_transcription_error_in_exact_fails_the_rational_check[power_conditional/1e-6] tests/proofs_check/test_proofs_check.py::test_a_transcription_error_in_exact_fails_the_rational_check[power_conditional/1e-10] tests/proofs_check/test_proofs_check.py::test_a_transcription_error_in_exact_fails_the_rational_check[reward_slope/1e-6] tests/proofs_check/test_proofs_check.py::test_a_transcription_error_in_exact_fails_the_rational_check[sharpening_mass/1e-6]"
patch_rational_tol() { sub proofs_check/rational.py "REL_TOL = 1e-12" "REL_TOL = 1e-4"; }

T_UF="tests/exact/test_power.py::test_batched_conditionals_keep_relative_precision_in_rows_far_below_the_maximum"
add underflow_off "batched power conditionals: underflow guard off" exact/power.py \
    "_ROW_UNDERFLOW = 1e-100 -> 0.0 (no row recomputed with its own maximum)" "$T_UF"
patch_underflow_off() { sub exact/power.py "_ROW_UNDERFLOW = 1e-100" "_ROW_UNDERFLOW = 0.0"; }

add underflow_weak "batched power conditionals: underflow guard weakened" exact/power.py \
    "_ROW_UNDERFLOW = 1e-100 -> 1e-300" "$T_UF"
patch_underflow_weak() { sub exact/power.py "_ROW_UNDERFLOW = 1e-100" "_ROW_UNDERFLOW = 1e-300"; }

T_CLIP="tests/exact/test_samplers_scalable.py::test_clipping_happens_and_is_handled"
add clip_norm "scalable jackknife clipped without renormalising (the bug the dead assertion should have caught)" exact/_numerics.py \
    "delete 'jk = jk / jk.sum(axis=-1, keepdims=True)' after the clip" "$T_CLIP"
patch_clip_norm() { sub exact/_numerics.py "        jk = jk / jk.sum(axis=-1, keepdims=True)
" ""; }

add clip_off "scalable jackknife: clip=True ignored (clipping never changes the law)" exact/_numerics.py \
    "if clip: -> if False:  (in jackknife_probabilities)" "$T_CLIP"
patch_clip_off() { sub exact/_numerics.py "    if clip:
        jk = np.clip(jk, 0.0, None)" "    if False:
        jk = np.clip(jk, 0.0, None)"; }

# ---- baseline: every catching test passes on the unpatched tree, none skipped or deselected ---------
declare -A SEEN=()
ALL_TESTS=()
for row in "${ROWS[@]}"; do
    IFS='|' read -r id bug file patch tests <<<"$row"
    [[ $id =~ $ONLY ]] || continue
    for t in $tests; do [[ -n ${SEEN[$t]:-} ]] || { SEEN[$t]=1; ALL_TESTS+=("$t"); }; done
done
START=$(date +%s)
if [ -n "${DRY_RUN:-}" ]; then  # only check that every patch applies and is restored
    for row in "${ROWS[@]}"; do
        IFS='|' read -r id bug file patch tests <<<"$row"
        [[ $id =~ $ONLY ]] || continue
        if "patch_$id" && ! git diff --quiet -- "$file"; then echo "applies: $id ($(git diff --shortstat -- "$file"))"; else echo "PATCH-ERROR: $id"; fi
        git checkout -- "$file"
    done
    git diff --quiet && echo "tree clean"; exit 0
fi
echo "== baseline: ${#ALL_TESTS[@]} test ids on the unpatched tree ($(git rev-parse --short HEAD))"
nice -n 10 "$PY" -m pytest -q -p no:cacheprovider -rsx "${ALL_TESTS[@]}" > "$LOG_DIR/baseline.log" 2>&1
BASE_RC=$?
tail -n 3 "$LOG_DIR/baseline.log"
if [ $BASE_RC -ne 0 ] || grep -qE "skipped|deselected|xfail" "$LOG_DIR/baseline.log"; then
    echo "BASELINE NOT CLEAN (rc=$BASE_RC): see $LOG_DIR/baseline.log"; exit 1
fi

# ---- the static row: the assertion that could not fail is gone ------------------------------------
if grep -n "or np.all(unclipped >= 0)" tests/exact/test_samplers_scalable.py; then
    DEAD="PRESENT (the dead assertion is still there)"
else
    DEAD="absent (replaced by the hand check of the clip and 'unclipped < -1e-3 and |clipped - unclipped| > 1e-3')"
fi

# ---- the rows --------------------------------------------------------------------------------------
RESULTS=()
for row in "${ROWS[@]}"; do
    IFS='|' read -r id bug file patch tests <<<"$row"
    [[ $id =~ $ONLY ]] || continue
    if ! "patch_$id" || git diff --quiet -- "$file"; then
        RESULTS+=("$id|PATCH-ERROR|-|0"); git checkout -- "$file"; continue
    fi
    git diff --stat -- "$file" | head -n 1 | sed "s/^/   [$id] /"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    pytest_run $tests > "$LOG_DIR/$id.log" 2>&1
    rc=$?
    t1=$(date +%s)
    git checkout -- "$file"
    first=$(grep -m 1 -E "^(FAILED|ERROR) " "$LOG_DIR/$id.log" | sed -E 's/^(FAILED|ERROR) //; s/ - .*//')
    case $rc in
        1) [ -n "$first" ] && res="FAIL(caught)" || res="ERROR(rc=1, no failing test)";;
        0) res="PASS(missed)"; first="-";;
        *) res="ERROR(rc=$rc)";;
    esac
    RESULTS+=("$id|$res|${first:--}|$((t1 - t0))")
    echo "   [$id] $res  ${first:-}  ($((t1 - t0)) s)"
done

git diff --quiet && CLEAN="clean" || CLEAN="NOT CLEAN"
END=$(date +%s)
echo
echo "| row | bug | patch | catching test(s) | result | first failing test | s |"
echo "|---|---|---|---|---|---|---|"
i=0
for row in "${ROWS[@]}"; do
    IFS='|' read -r id bug file patch tests <<<"$row"
    [[ $id =~ $ONLY ]] || continue
    IFS='|' read -r _ res first secs <<<"${RESULTS[$i]}"
    i=$((i + 1))
    short=$(echo "$tests" | sed -E 's#(^| )tests/[a-z_]+/#\1#g; s# #<br>#g')
    echo "| $id | $bug | \`$file\`: $patch | $short | $res | $first | $secs |"
done
echo
echo "dead assertion 'or np.all(unclipped >= 0)' in tests/exact/test_samplers_scalable.py: $DEAD"
echo "baseline: rc=$BASE_RC, ${#ALL_TESTS[@]} ids, all passed, none skipped/deselected"
echo "git diff after the run: $CLEAN"
echo "HEAD $(git rev-parse --short HEAD); wall time $((END - START)) s; logs in $LOG_DIR"
caught=$(printf '%s\n' "${RESULTS[@]}" | grep -c "FAIL(caught)")
echo "caught $caught of ${#RESULTS[@]}"
[ "$CLEAN" = clean ] && [ "$caught" -eq "${#RESULTS[@]}" ]
