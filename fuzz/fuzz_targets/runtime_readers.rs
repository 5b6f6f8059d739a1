//! Feeds arbitrary bytes to the runtime's readers: a plan (`deployc run --plan`) with a
//! scenario (`--simulate`), simulated when both read, and a journal (`--resume`, `status`).
//! Nothing may panic or hang. The input is split at its first NUL byte: the plan JSON before
//! it, the scenario TOML after it; the whole input is also read as a journal.
#![no_main]

use deployc::runtime::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (plan, scenario) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(scenario) = std::str::from_utf8(scenario) {
        let _ = fuzz::plan_and_scenario(plan, scenario);
    }
    let _ = fuzz::journal(data);
});
