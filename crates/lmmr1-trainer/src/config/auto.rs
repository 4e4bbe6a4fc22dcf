//! `Auto<T>`: a setting given as a value or as `"auto"`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A setting that is either given or `"auto"`: resolved when the run starts (from the memory
/// planner and the model, see [`crate::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Auto<T> {
    /// Resolved by the trainer.
    #[default]
    Auto,
    /// This value.
    Set(T),
}

impl<T: Copy> Auto<T> {
    /// The value, or `auto` when the setting is `"auto"`.
    pub fn or(self, auto: T) -> T {
        match self {
            Auto::Auto => auto,
            Auto::Set(v) => v,
        }
    }
}

impl<T: Serialize> Serialize for Auto<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Auto::Auto => s.serialize_str("auto"),
            Auto::Set(v) => v.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Auto<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr<T> {
            Word(String),
            Value(T),
        }
        let expected = match std::any::type_name::<T>() {
            "bool" => "\"auto\", true or false",
            "usize" | "u64" | "u32" => "\"auto\" or a whole number",
            _ => "\"auto\" or a value",
        };
        match Repr::<T>::deserialize(d)
            .map_err(|_| serde::de::Error::custom(format!("expected {expected}")))?
        {
            Repr::Word(w) if w == "auto" => Ok(Auto::Auto),
            Repr::Word(w) => Err(serde::de::Error::custom(format!(
                "expected {expected}, got {w:?}"
            ))),
            Repr::Value(v) => Ok(Auto::Set(v)),
        }
    }
}
