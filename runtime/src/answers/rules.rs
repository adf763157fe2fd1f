//! Who answers which call: the user's `--fuzz`, `--forward` and `--fault` rules, matched against
//! function names.
//!
//! A pattern names functions the way a user reads them: a package (`wasi:filesystem`), an
//! interface with or without its version (`wasi:filesystem/types`), a function
//! (`wasi:filesystem/types.[method]descriptor.read`), or just the function's name
//! (`[method]descriptor.read`); `*` stands for any characters (the only wildcard: WIT names
//! are full of `[` and `]`, which glob syntax would take for character classes).

use anyhow::{bail, Context, Result};
use recorder_host::functions::Function;
use recorder_host::types::ValueType;
use recorder_host::value::{encode, wave_type, Value};

/// A function name pattern (see the module's doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            bail!("an empty function pattern");
        }
        Ok(Pattern(text.trim().to_string()))
    }

    /// Whether the pattern names `f`.
    pub fn matches(&self, f: &Function) -> bool {
        let mut names = vec![f.func.clone()];
        if let Some(interface) = &f.interface {
            let unversioned = interface.split('@').next().unwrap_or(interface);
            names.push(interface.clone());
            names.push(unversioned.to_string());
            if let Some((package, _)) = unversioned.split_once('/') {
                names.push(package.to_string());
            }
            names.push(format!("{interface}.{}", f.func));
            names.push(format!("{unversioned}.{}", f.func));
        }
        names.iter().any(|n| wildcard(&self.0, n))
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `text` matches `pattern`, in which `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `--fault PATTERN[@RATE][=ERROR]`: the calls of the functions `pattern` names that can fail
/// (those returning a `result` with an error case) fail at `rate` (a fraction, 1 by default),
/// with the error `value` (WAVE, of the error case's type) or a random one. A failed call never
/// reaches the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub pattern: Pattern,
    pub rate: f64,
    pub value: Option<String>,
}

impl Fault {
    /// Parses `PATTERN[@RATE][=ERROR]`; a rate is a percentage (`1%`) or a fraction (`0.01`).
    pub fn parse(text: &str) -> Result<Self> {
        let (rule, value) = match text.split_once('=') {
            Some((rule, value)) => (rule, Some(value.trim().to_string())),
            None => (text, None),
        };
        let (pattern, rate) = match rule.rsplit_once('@') {
            // A version is `@0.2.6` after an interface name, a rate comes last: `@` followed by
            // a percentage or a fraction, not by a `.`-separated version with more after it.
            Some((pattern, rate)) if is_rate(rate) => (pattern, parse_rate(rate)?),
            _ => (rule, 1.0),
        };
        Ok(Fault {
            pattern: Pattern::parse(pattern)?,
            rate,
            value,
        })
    }

    /// The encoded error (the whole `result`, `err` case) that `f` returns when this fault hits
    /// it, from [`Self::value`]; `None` for a random one. An error if the value is not one of
    /// `f`'s error type.
    pub fn error_for(&self, f: &Function) -> Result<Option<Vec<u8>>> {
        let Some(text) = &self.value else {
            return Ok(None);
        };
        let Some(ValueType::Result { err, .. }) = &f.result else {
            bail!("`{}` returns no error", f.name);
        };
        let mut out = vec![1];
        if let Some(err) = err {
            let value = parse_wave(err, text)
                .with_context(|| format!("`--fault {}`: the error of `{}`", self, f.name))?;
            encode(&value, err, &mut out).map_err(anyhow::Error::msg)?;
        } else if !text.is_empty() && text != "_" {
            bail!(
                "`--fault {self}`: `{}` fails with no error value (write `=_` or leave it out)",
                f.name
            );
        }
        Ok(Some(out))
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}%", self.pattern, self.rate * 100.0)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        Ok(())
    }
}

fn is_rate(text: &str) -> bool {
    text.ends_with('%') || text.parse::<f64>().is_ok()
}

fn parse_rate(text: &str) -> Result<f64> {
    let rate = match text.strip_suffix('%') {
        Some(percent) => percent
            .trim()
            .parse::<f64>()
            .map(|p| p / 100.0)
            .with_context(|| format!("bad rate `{text}` (expected e.g. `1%` or `0.01`)"))?,
        None => text
            .trim()
            .parse::<f64>()
            .with_context(|| format!("bad rate `{text}` (expected e.g. `1%` or `0.01`)"))?,
    };
    if !(0.0..=1.0).contains(&rate) {
        bail!("the rate `{text}` is not between 0% and 100%");
    }
    Ok(rate)
}

/// `text`, a value in WAVE, as a value of `ty`. Handles are written as numbers.
pub fn parse_wave(ty: &ValueType, text: &str) -> Result<Value> {
    let wave = wave_type(ty).map_err(anyhow::Error::msg)?;
    wasm_wave::from_str::<Value>(&wave, text).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Who answers a call when no rule names its function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// The real host.
    Host,
    /// The fuzzer: a random value.
    Fuzzer,
    /// The person at the terminal (`dialog`).
    Person,
}

/// The rules of one command (see the module's doc).
#[derive(Debug, Clone)]
pub struct Rules {
    /// Functions the real host answers.
    pub forward: Vec<Pattern>,
    /// Functions the fuzzer answers.
    pub fuzz: Vec<Pattern>,
    /// Functions that fail at a rate.
    pub faults: Vec<Fault>,
    /// Who answers a call no rule names and that takes no handle: the command's default.
    pub default: Answerer,
    /// Who answers a call that takes only handles that the host did not make (the fuzzer or
    /// the person who made them up).
    pub made_up: Answerer,
}

impl Rules {
    /// Who the rules name to answer `f`: the first `--forward` or `--fuzz` pattern that matches
    /// (forward first), else `None` (the caller decides by the call's handles and the default).
    pub fn named(&self, f: &Function) -> Option<Answerer> {
        if self.forward.iter().any(|p| p.matches(f)) {
            return Some(Answerer::Host);
        }
        if self.fuzz.iter().any(|p| p.matches(f)) {
            return Some(Answerer::Fuzzer);
        }
        None
    }

    /// The fault that applies to `f`, if any: the first whose pattern names it, if `f` can fail.
    pub fn fault(&self, f: &Function) -> Option<&Fault> {
        if !matches!(f.result, Some(ValueType::Result { .. })) {
            return None;
        }
        self.faults.iter().find(|fault| fault.pattern.matches(f))
    }

    /// Checks every rule against `functions` before anything runs: a pattern that names no
    /// function is a typo, a fault that names no function that can fail cannot hit, an error
    /// value must be one of each function's error type.
    pub fn check(&self, functions: &[Function]) -> Result<()> {
        for (flag, patterns) in [("--forward", &self.forward), ("--fuzz", &self.fuzz)] {
            for p in patterns {
                if !functions.iter().any(|f| p.matches(f)) {
                    bail!("`{flag} {p}` names none of the component's imports");
                }
            }
        }
        for fault in &self.faults {
            if !functions.iter().any(|f| fault.pattern.matches(f)) {
                bail!("`--fault {fault}` names none of the component's imports");
            }
            let mut hits = 0;
            for f in functions.iter().filter(|f| fault.pattern.matches(f)) {
                if matches!(f.result, Some(ValueType::Result { .. })) {
                    fault.error_for(f)?;
                    hits += 1;
                }
            }
            if hits == 0 {
                bail!(
                    "`--fault {fault}` names no import that can fail (one that returns a `result`)"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(interface: Option<&str>, func: &str, result: Option<ValueType>) -> Function {
        Function {
            name: match interface {
                Some(i) => format!("{i}.{func}"),
                None => func.into(),
            },
            interface: interface.map(str::to_string),
            func: func.into(),
            params: vec![],
            param_names: vec![],
            result,
        }
    }

    #[test]
    fn patterns_name_packages_interfaces_and_functions() {
        let read = function(
            Some("wasi:filesystem/types@0.2.6"),
            "[method]descriptor.read",
            None,
        );
        for yes in [
            "wasi:filesystem",
            "wasi:filesystem/types",
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/*",
            "wasi:filesystem/types.[method]descriptor.read",
            "[method]descriptor.read",
            "*descriptor.read",
            "*",
            "wasi:*.read",
        ] {
            assert!(Pattern::parse(yes).unwrap().matches(&read), "{yes}");
        }
        for no in [
            "wasi:file",
            "wasi:filesystem/preopens",
            "wasi:filesystem/types@0.2.0",
            "read",
            "*write",
            "descriptor",
        ] {
            assert!(!Pattern::parse(no).unwrap().matches(&read), "{no}");
        }
    }

    #[test]
    fn faults_parse_rates_versions_and_values() {
        let f = Fault::parse("wasi:filesystem@1%").unwrap();
        assert_eq!(
            (f.pattern.0.as_str(), f.rate, f.value),
            ("wasi:filesystem", 0.01, None)
        );
        let f = Fault::parse("wasi:http/outgoing-handler@0.2.6.handle=connection-timeout").unwrap();
        assert_eq!(f.pattern.0, "wasi:http/outgoing-handler@0.2.6.handle");
        assert_eq!(f.rate, 1.0);
        assert_eq!(f.value.as_deref(), Some("connection-timeout"));
        let f = Fault::parse("wasi:filesystem/types@0.2.6@0.5=access").unwrap();
        assert_eq!(
            (f.pattern.0.as_str(), f.rate),
            ("wasi:filesystem/types@0.2.6", 0.5)
        );
        assert!(Fault::parse("x@150%").is_err());
        assert!(Fault::parse("@1%").is_err());
    }

    #[test]
    fn fault_values_are_checked_against_the_error_type() {
        let code = ValueType::Enum {
            name: Some("error-code".into()),
            cases: vec!["access".into(), "io".into()],
        };
        let open = function(
            Some("wasi:filesystem/types@0.2.6"),
            "[method]descriptor.open-at",
            Some(ValueType::Result {
                ok: Some(Box::new(ValueType::U32)),
                err: Some(Box::new(code)),
            }),
        );
        let fault = Fault::parse("wasi:filesystem=io").unwrap();
        assert_eq!(fault.error_for(&open).unwrap(), Some(vec![1, 1]));
        let bad = Fault::parse("wasi:filesystem=nope").unwrap();
        assert!(bad.error_for(&open).is_err());
        let rules = Rules {
            forward: vec![],
            fuzz: vec![],
            faults: vec![bad],
            default: Answerer::Host,
            made_up: Answerer::Fuzzer,
        };
        assert!(rules.check(std::slice::from_ref(&open)).is_err());
        let no_result = function(Some("wasi:cli/stdout@0.2.6"), "get-stdout", None);
        let rules = Rules {
            faults: vec![Fault::parse("wasi:cli").unwrap()],
            ..rules
        };
        let err = rules.check(&[no_result]).unwrap_err().to_string();
        assert!(err.contains("can fail"), "{err}");
    }
}
