//! The module map stays acyclic: no module of `src/` imports, directly or through others, a
//! module that imports it back (the state below the router, machinery below the domains).

#[test]
fn src_has_no_import_cycle() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = std::process::Command::new("python3")
        .arg(format!("{root}/tests/module_cycles.py"))
        .arg(format!("{root}/src"))
        .output()
        .expect("python3 runs tests/module_cycles.py");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "import cycles in src/:\n{report}");
    assert!(report.contains(" 0 cycles"), "{report}");
}
