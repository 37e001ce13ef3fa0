//! The name of a unit enum variant as serde spells it, so that a config value's name is written
//! once, in its `#[serde(rename...)]` attribute, and read back from there everywhere else.

use serde::Serialize;
use serde::ser::{Impossible, Serializer};

/// The serde name of a unit variant (`Arch::Resnet18` -> `"resnet18"`, after `rename_all`).
///
/// Panics only on a programming error: `T` must serialize as a unit variant (a plain enum value);
/// every caller passes such an enum, and the tests cover each of them.
pub fn serde_name<T: Serialize>(v: &T) -> &'static str {
    v.serialize(VariantName).expect("serde_name takes a unit enum variant")
}

/// Implement `name()` and `Display` through [`serde_name`] for plain enums.
macro_rules! serde_named {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// The name this value has in configs and outputs (its serde name).
            pub fn name(self) -> &'static str {
                $crate::config::serde_name(&self)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
pub(crate) use serde_named;

/// Why a value has no serde name: it is not a unit variant.
#[derive(Debug)]
pub struct NotAUnitVariant;

impl std::fmt::Display for NotAUnitVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a unit enum variant")
    }
}

impl std::error::Error for NotAUnitVariant {}

impl serde::ser::Error for NotAUnitVariant {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        NotAUnitVariant
    }
}

/// A serializer that accepts only unit variants and returns their (static) name: serde_derive
/// hands the renamed variant name to `serialize_unit_variant` as a `&'static str`.
struct VariantName;

/// The methods for every other kind of value: each refuses.
macro_rules! refuse {
    ($($f:ident($($t:ty),*)),* $(,)?) => {$(
        fn $f(self, $(_: $t),*) -> Result<&'static str, NotAUnitVariant> {
            Err(NotAUnitVariant)
        }
    )*};
}

impl Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAUnitVariant;
    type SerializeSeq = Impossible<&'static str, NotAUnitVariant>;
    type SerializeTuple = Impossible<&'static str, NotAUnitVariant>;
    type SerializeTupleStruct = Impossible<&'static str, NotAUnitVariant>;
    type SerializeTupleVariant = Impossible<&'static str, NotAUnitVariant>;
    type SerializeMap = Impossible<&'static str, NotAUnitVariant>;
    type SerializeStruct = Impossible<&'static str, NotAUnitVariant>;
    type SerializeStructVariant = Impossible<&'static str, NotAUnitVariant>;

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<&'static str, Self::Error> {
        Ok(variant)
    }

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, DeviceName, OptimName, Sphere, Variant};

    #[test]
    fn names_are_the_serde_renames() {
        assert_eq!(serde_name(&Arch::Resnet18), "resnet18");
        assert_eq!(Variant::ScaleInvariant.name(), "scale-invariant");
        assert_eq!(Sphere::PerFilter.name(), "per_filter");
        assert_eq!(OptimName::Adamw.to_string(), "adamw");
        assert_eq!(DeviceName::Cuda.name(), "cuda");
        // the name is the one serde writes into config.toml
        assert_eq!(serde_json::to_value(Variant::SiAffine).unwrap(), Variant::SiAffine.name());
    }

    #[test]
    fn non_variants_are_refused() {
        assert!(1.5f64.serialize(VariantName).is_err());
        assert!("x".serialize(VariantName).is_err());
    }
}
