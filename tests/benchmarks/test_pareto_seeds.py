"""benchmarks.pareto --seeds: the means, standard deviations and standard errors of its seed table,
checked against the README's depth numbers (computed there by hand from each run's results.csv)."""
from benchmarks.pareto import final_values, seed_run_name, seed_table

RECIPE, UNET = "litebone depth 40ep", "smp U-Net (MobileNetV2) 30ep"


def _finals(delta1, abs_rel, rmse, seconds):
    return [{"delta1": d, "AbsRel": a, "RMSE": r, "wall-clock s": t} for d, a, r, t in zip(delta1, abs_rel, rmse, seconds)]


def test_the_seed_table_reproduces_the_readmes_five_seeds_against_four():
    finals = {
        # seed 3 of the recipe was not timed (it shared the CPU); it gets the mean of the other four, 621 s
        RECIPE: _finals([0.8423, 0.8334, 0.8353, 0.8361, 0.8314], [0.1395, 0.1463, 0.1456, 0.1432, 0.1476],
                        [0.6004, 0.6115, 0.6005, 0.6091, 0.6067], [594, 585, 686, 621, 618]),
        UNET: _finals([0.8359, 0.8396, 0.8417, 0.8310], [0.1487, 0.1508, 0.1461, 0.1501], [0.6254, 0.6210, 0.6146, 0.6326],
                      [1218, 1258, 1252, 1128]),
    }
    header, rule, recipe, unet = seed_table(finals, UNET)
    assert header == "| model | seeds | delta1 | AbsRel | RMSE | wall-clock s |" and rule == "|---|---|---|---|---|---|"
    # README: 0.8357 +- 0.0041 / 0.1444 +- 0.0032 / 0.6056 +- 0.0050 against 0.8370 +- 0.0047 / 0.1489 +- 0.0021 / 0.6234 +- 0.0076;
    # AbsRel -0.0045 (2.5 standard errors), RMSE -0.0178 (4), delta1 0.5 standard errors behind, 0.51x the wall-clock
    assert recipe == ("| litebone depth 40ep | 5 | 0.8357 ± 0.0041 (-0.0013, SE 0.0030) | 0.1444 ± 0.0032 (-0.0045, SE 0.0018) "
                      "| 0.6056 ± 0.0050 (-0.0178, SE 0.0044) | 621 (0.51x) |")
    assert unet == "| smp U-Net (MobileNetV2) 30ep | 4 | 0.8370 ± 0.0047 | 0.1489 ± 0.0021 | 0.6234 ± 0.0076 | 1214 |"


def test_one_seed_has_no_spread_and_no_reference_means_no_differences():
    finals = {RECIPE: _finals([0.84], [0.14], [0.6], [600]), UNET: _finals([0.83, 0.84], [0.15, 0.15], [0.62, 0.63], [1200, 1220])}
    _, _, recipe, unet = seed_table(finals, UNET)
    assert recipe == "| litebone depth 40ep | 1 | 0.8400 (+0.0050, SE 0.0050) | 0.1400 (-0.0100) | 0.6000 (-0.0250, SE 0.0050) | 600 (0.50x) |"
    _, _, alone = seed_table({RECIPE: finals[RECIPE]}, None)
    assert alone == "| litebone depth 40ep | 1 | 0.8400 | 0.1400 | 0.6000 | 600 |"


def test_seed_zero_keeps_the_one_seed_run_name():
    assert [seed_run_name("depth-40ep", seed) for seed in (0, 1, 12)] == ["depth-40ep", "depth-40ep-s1", "depth-40ep-s12"]


def test_final_values_are_the_last_validated_row_and_its_time(tmp_path):
    results = tmp_path / "results.csv"
    results.write_text("epoch,time,val/delta1,val/abs_rel\n1,10.5,,\n2,20.25,0.5,0.3\n3,31.0,0.6,0.2\n")
    assert final_values(results, {"delta1": "val/delta1", "AbsRel": "val/abs_rel"}) == {"delta1": 0.6, "AbsRel": 0.2, "wall-clock s": 31.0}
