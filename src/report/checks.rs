//! A study's checks: each a claim that its runs can falsify, what came of it, and the numbers
//! behind it. A check that did not get what it needs to be decided (one regime seen where an
//! order of regimes is claimed) is *not testable*, never passed.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// What came of a check.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The claim held.
    Held,
    /// The claim was tested and did not hold.
    Failed,
    /// The runs do not have what the claim needs (`why` says what was missing).
    NotTestable { why: String },
}

/// One check of a study. `summary.json` holds it as
/// `{"claim", "passed", "outcome": "held"|"failed"|"not-testable", "why"?, "expected", "numbers"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// What is claimed, with the numbers in words.
    pub claim: String,
    pub outcome: Outcome,
    /// Whether the scale can show the phenomenon: `false` at smoke scale, which checks the
    /// pipeline only (the text then says "not expected at smoke scale").
    pub expected: bool,
    /// The numbers the outcome was decided on, by name.
    pub numbers: Vec<(String, Vec<f64>)>,
}

impl Check {
    /// A check decided by `held`.
    pub fn new(claim: impl Into<String>, held: bool) -> Check {
        Check {
            claim: claim.into(),
            outcome: if held { Outcome::Held } else { Outcome::Failed },
            expected: true,
            numbers: vec![],
        }
    }

    /// A check the runs could not decide.
    pub fn not_testable(claim: impl Into<String>, why: impl Into<String>) -> Check {
        Check { outcome: Outcome::NotTestable { why: why.into() }, ..Check::new(claim, false) }
    }

    /// `new` when nothing is `missing`, `not_testable(missing)` otherwise: a check decided only
    /// when what it needs is there.
    pub fn unless(claim: impl Into<String>, missing: Option<&str>, held: bool) -> Check {
        match missing {
            Some(why) => Check::not_testable(claim, why),
            None => Check::new(claim, held),
        }
    }

    /// With one more named number (or list of numbers).
    pub fn with(mut self, name: &str, values: &[f64]) -> Check {
        self.numbers.push((name.to_string(), values.to_vec()));
        self
    }

    /// The outcome was `Held`.
    pub fn held(&self) -> bool {
        self.outcome == Outcome::Held
    }

    /// The claim as people read it: marked when the scale is not expected to show it, and with
    /// why it could not be tested.
    pub fn text(&self) -> String {
        let scale = if self.expected { "" } else { "(not expected at smoke scale) " };
        match &self.outcome {
            Outcome::NotTestable { why } => format!("{scale}{} (not testable: {why})", self.claim),
            _ => format!("{scale}{}", self.claim),
        }
    }

    /// A four-letter mark for terminals: `ok  `, `FAIL` or `n/t ` (not testable).
    pub fn mark(&self) -> &'static str {
        match self.outcome {
            Outcome::Held => "ok  ",
            Outcome::Failed => "FAIL",
            Outcome::NotTestable { .. } => "n/t ",
        }
    }
}

/// The named numbers as a JSON object (a name may hold one number or several).
struct Numbers<'a>(&'a [(String, Vec<f64>)]);

impl Serialize for Numbers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            match v.as_slice() {
                [x] => m.serialize_entry(k, x)?,
                _ => m.serialize_entry(k, v)?,
            }
        }
        m.end()
    }
}

/// The wire form of a check: `passed` kept for readers of the earlier `[claim, passed]` pairs.
#[derive(Serialize)]
struct Wire<'a> {
    claim: &'a str,
    passed: bool,
    #[serde(flatten)]
    outcome: &'a Outcome,
    expected: bool,
    numbers: Numbers<'a>,
}

impl Serialize for Check {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            claim: &self.claim,
            passed: self.held(),
            outcome: &self.outcome,
            expected: self.expected,
            numbers: Numbers(&self.numbers),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_and_text() {
        let c = Check::new("a claim", true).with("ratio", &[1.5]).with("runs", &[1.0, 2.0]);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["claim"], "a claim");
        assert_eq!(v["passed"], true);
        assert_eq!(v["outcome"], "held");
        assert_eq!(v["numbers"]["ratio"], 1.5);
        assert_eq!(v["numbers"]["runs"], serde_json::json!([1.0, 2.0]));
        let mut n = Check::not_testable("order", "one regime seen");
        n.expected = false;
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!((v["passed"].clone(), v["outcome"].clone()), (false.into(), "not-testable".into()));
        assert_eq!(v["why"], "one regime seen");
        assert_eq!(n.text(), "(not expected at smoke scale) order (not testable: one regime seen)");
        assert_eq!((n.mark(), c.mark(), Check::new("x", false).mark()), ("n/t ", "ok  ", "FAIL"));
    }
}
