//! Numbers in silab's JSON files (`summary.json`, ...) that may be non-finite: a finite value is
//! a JSON number; NaN, +inf and -inf are the strings `"NaN"`, `"inf"` and `"-inf"` (JSON has no
//! such numbers, and writing them as `null` would lose which one it was). Reading accepts both,
//! and `null` as NaN. Use with `#[serde(with = "crate::store::json_num::f64")]` (or `opt`, `map`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Num(f64),
    /// An integral value written without `.0` (maps only: `epoch`, `step`).
    Int(i64),
    Text(String),
    Null(()),
}

fn to_repr(v: f64) -> Repr {
    if v.is_finite() {
        Repr::Num(v)
    } else if v.is_nan() {
        Repr::Text("NaN".into())
    } else if v > 0.0 {
        Repr::Text("inf".into())
    } else {
        Repr::Text("-inf".into())
    }
}

fn from_repr<E: serde::de::Error>(r: Repr) -> Result<f64, E> {
    match r {
        Repr::Num(v) => Ok(v),
        Repr::Int(v) => Ok(v as f64),
        Repr::Null(()) => Ok(f64::NAN),
        Repr::Text(t) => match t.as_str() {
            "NaN" | "nan" => Ok(f64::NAN),
            "inf" | "+inf" | "Infinity" => Ok(f64::INFINITY),
            "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(E::custom(format!("`{t}` is not a number (nor NaN, inf, -inf)"))),
        },
    }
}

/// A plain `f64`.
pub mod f64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        to_repr(*v).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        from_repr(Repr::deserialize(d)?)
    }
}

/// An `Option<f64>` (`null` = `None`).
pub mod opt {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(to_repr).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None | Some(Repr::Null(())) => Ok(None),
            Some(r) => from_repr(r).map(Some),
        }
    }
}

/// A `BTreeMap<String, f64>` (a row of named values: integral values are written as JSON
/// integers, so `epoch` reads back as an integer in Python).
pub mod map {
    use super::*;
    use std::collections::BTreeMap;
    pub fn serialize<S: Serializer>(v: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
        let repr = |x: f64| {
            if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 { Repr::Int(x as i64) } else { to_repr(x) }
        };
        v.iter().map(|(k, x)| (k, repr(*x))).collect::<BTreeMap<_, _>>().serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        BTreeMap::<String, Repr>::deserialize(d)?.into_iter().map(|(k, r)| Ok((k, from_repr(r)?))).collect()
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    struct S {
        #[serde(with = "super::f64")]
        a: f64,
        #[serde(with = "super::opt")]
        b: Option<f64>,
        #[serde(with = "super::map")]
        c: std::collections::BTreeMap<String, f64>,
    }

    #[test]
    fn non_finite_values_round_trip() {
        let s = S {
            a: f64::INFINITY,
            b: Some(f64::NAN),
            c: [("x".into(), f64::NEG_INFINITY), ("y".into(), 2.5), ("z".into(), 3.0)].into(),
        };
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(j, r#"{"a":"inf","b":"NaN","c":{"x":"-inf","y":2.5,"z":3}}"#);
        let back: S = serde_json::from_str(&j).unwrap();
        assert_eq!(back.a, f64::INFINITY);
        assert!(back.b.unwrap().is_nan());
        assert_eq!(back.c["x"], f64::NEG_INFINITY);
        assert_eq!(back.c["y"], 2.5);
        let old: S = serde_json::from_str(r#"{"a":null,"b":null,"c":{}}"#).unwrap();
        assert!(old.a.is_nan() && old.b.is_none());
        assert!(serde_json::from_str::<S>(r#"{"a":"fast","b":null,"c":{}}"#).is_err());
    }
}
