//! `check-decompress FILE`: the TypeScript compressor's output, decompressed by the real
//! `rivven_core::compression::Compressor`. Exit 0 = all match, 1 = some failed, 2 = bad file.

use crate::json_util::{from_hex, to_hex};
use rivven_core::compression::Compressor;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::ExitCode;

#[derive(Deserialize)]
struct Input {
    values: Vec<Value>,
}

#[derive(Deserialize)]
struct Value {
    name: String,
    compressed: String,
    expected: String,
}

#[derive(Serialize)]
struct Report {
    checked: usize,
    ok: usize,
    failures: Vec<Failure>,
}

#[derive(Serialize)]
struct Failure {
    name: String,
    error: String,
}

pub fn run(file: &Path) -> ExitCode {
    let input: Input = match std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))
        .and_then(|text| {
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a valid check file: {e}", file.display()))
        }) {
        Ok(input) => input,
        Err(msg) => {
            eprintln!("check-decompress: {msg}");
            return ExitCode::from(2);
        }
    };

    let compressor = Compressor::new();
    let mut report = Report {
        checked: 0,
        ok: 0,
        failures: Vec::new(),
    };
    for value in &input.values {
        report.checked += 1;
        match check_one(&compressor, value) {
            Ok(()) => report.ok += 1,
            Err(error) => report.failures.push(Failure {
                name: value.name.clone(),
                error,
            }),
        }
    }

    match serde_json::to_string(&report) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("check-decompress: cannot serialize report: {e}");
            return ExitCode::from(2);
        }
    }
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check_one(compressor: &Compressor, value: &Value) -> Result<(), String> {
    let compressed =
        from_hex(&value.compressed).map_err(|e| format!("bad hex in compressed: {e}"))?;
    let expected = from_hex(&value.expected).map_err(|e| format!("bad hex in expected: {e}"))?;
    let actual = compressor
        .decompress(&compressed)
        .map_err(|e| format!("decompress failed: {e}"))?;
    if actual[..] == expected[..] {
        return Ok(());
    }
    let first_diff = actual
        .iter()
        .zip(&expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let preview = |b: &[u8]| to_hex(&b[first_diff..b.len().min(first_diff + 16)]);
    Err(format!(
        "mismatch: expected {} bytes, got {} bytes; first difference at byte {first_diff} (expected {}…, got {}…)",
        expected.len(),
        actual.len(),
        preview(&expected),
        preview(&actual)
    ))
}
