//! The reference of every config key (type, default, meaning), read from the types themselves:
//! the JSON schema that `schemars` derives from the structs (whose `///` comments are the
//! meanings) and the TOML tree of [`RunConfig::default`]. Nothing here lists keys by hand.

use super::RunConfig;
use super::load::all_keys;
use serde_json::Value;
use std::collections::HashMap;

/// One config key, as `silab presets --keys` and the book's reference show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyDoc {
    /// Dotted key, as `--set` takes it (`optim.elr`).
    pub key: String,
    /// What it takes: `number`, `unsigned integer`, `"ce" or "mse"`, `array of string`, ...
    pub ty: String,
    /// The default, in TOML syntax (`0.001`, `"cpu"`, `["si"]`).
    pub default: String,
    /// One line: the field's doc comment.
    pub meaning: String,
}

/// Every config key in declaration order, with its type, default and meaning.
pub fn reference() -> Vec<KeyDoc> {
    let schema = schemars::schema_for!(RunConfig);
    let root = schema.as_value();
    let defaults: HashMap<String, String> = all_keys().into_iter().collect();
    let mut out = vec![];
    walk(root, root, "", &defaults, &mut out);
    out
}

/// The reference as a Markdown table (key, type, default, meaning), one row per key.
pub fn reference_markdown() -> String {
    let mut s = String::from("| key | type | default | meaning |\n|---|---|---|---|\n");
    for k in reference() {
        s.push_str(&format!("| `{}` | {} | `{}` | {} |\n", k.key, cell(&k.ty), cell(&k.default), cell(&k.meaning)));
    }
    s
}

/// A table cell: `|` would end it.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Add the keys of the object schema `obj` (a section, or the root) under `prefix`.
fn walk(root: &Value, obj: &Value, prefix: &str, defaults: &HashMap<String, String>, out: &mut Vec<KeyDoc>) {
    let Some(props) = obj.get("properties").and_then(Value::as_object) else { return };
    for (name, prop) in props {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        let target = resolve(root, prop);
        if target.get("properties").is_some() {
            walk(root, target, &key, defaults, out);
            continue;
        }
        let meaning = description(prop).or_else(|| description(target)).unwrap_or_default();
        let default = defaults.get(&key).cloned().unwrap_or_default();
        out.push(KeyDoc { ty: type_of(root, prop), key, default, meaning });
    }
}

/// The schema a `$ref` points to (the schema itself when it is no reference).
fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => root.pointer(pointer).unwrap_or(s),
        None => s,
    }
}

/// A doc comment on one line.
fn description(s: &Value) -> Option<String> {
    let d = s.get("description")?.as_str()?;
    Some(d.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// What a schema takes, in words.
fn type_of(root: &Value, s: &Value) -> String {
    let s = resolve(root, s);
    if let Some(c) = s.get("const") {
        return c.to_string();
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        return either(values.iter().map(Value::to_string).collect());
    }
    for alternatives in ["oneOf", "anyOf"] {
        if let Some(alts) = s.get(alternatives).and_then(Value::as_array) {
            return either(alts.iter().map(|a| type_of(root, a)).collect());
        }
    }
    match s.get("type").and_then(Value::as_str) {
        Some("array") => format!("array of {}", s.get("items").map_or("values".into(), |i| type_of(root, i))),
        Some("integer") if s.get("minimum").and_then(Value::as_f64) == Some(0.0) => "unsigned integer".into(),
        Some(t) => t.into(),
        None => "value".into(),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either(mut items: Vec<String>) -> String {
    match items.pop() {
        None => String::new(),
        Some(last) if items.is_empty() => last,
        Some(last) => format!("{} or {last}", items.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_has_every_key_of_the_key_check_in_order_with_a_meaning() {
        let keys: Vec<String> = reference().into_iter().map(|k| k.key).collect();
        let checked: Vec<String> = all_keys().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, checked);
        for k in reference() {
            assert!(!k.meaning.is_empty(), "`{}` has no doc comment", k.key);
            assert!(!k.ty.is_empty() && !k.default.is_empty(), "{k:?}");
            assert!(!k.meaning.contains('\n'), "{k:?}");
        }
    }

    #[test]
    fn types_defaults_and_meanings_come_from_the_code() {
        let r = reference();
        let get = |key: &str| r.iter().find(|k| k.key == key).unwrap_or_else(|| panic!("{key}")).clone();
        let loss = get("loss");
        assert_eq!(loss.ty, "\"ce\" or \"mse\"");
        assert_eq!(loss.default, "\"ce\"");
        assert_eq!(get("optim.elr").ty, "number");
        assert_eq!(get("optim.elr").default, "0.001");
        assert_eq!(get("optim.angle").ty, "number or \"auto\"");
        assert_eq!(get("train.epochs").ty, "unsigned integer");
        assert_eq!(get("model.width").ty, "integer");
        assert_eq!(get("sharpness.groups").ty, "array of string");
        assert_eq!(get("sharpness.groups").default, "[\"si\"]");
        assert_eq!(get("model.variant").ty, "\"standard\", \"scale-invariant\" or \"si-affine\"");
        assert!(get("optim.elr").meaning.contains("effective learning rate"), "{:?}", get("optim.elr"));
    }

    #[test]
    fn the_markdown_table_is_one_row_per_key_and_deterministic() {
        let md = reference_markdown();
        assert_eq!(md, reference_markdown());
        assert_eq!(md.lines().count(), reference().len() + 2);
        assert!(md.contains("| `optim.elr` | number | `0.001` |"), "{md}");
        for line in md.lines() {
            // every row has exactly the 5 unescaped separators of 4 cells
            assert_eq!(line.replace("\\|", "").matches('|').count(), 5, "{line}");
        }
    }
}
