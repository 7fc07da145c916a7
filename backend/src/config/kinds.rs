//! The kinds of value a settings row can hold: how clap reads a flag or
//! variable of that kind, what the TOML file holds, how a row writes its
//! default, and how the flag's text becomes the file's typed value.

use std::fmt::Debug;
use std::path::PathBuf;

use clap::builder::ValueParser;
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};

/// What a setting holds: how clap reads its flag or variable, what the TOML file
/// holds, and how the former becomes the latter.
pub(super) trait Kind {
    /// The flag's or variable's value as clap hands it over.
    type Arg: Clone + Debug + Send + Sync + 'static;
    /// The typed value, as the TOML file holds it and validation reads it.
    type Value: Clone + Debug + DeserializeOwned;
    /// How a row writes its default (`default 30`, `default "text"`).
    type Literal;
    /// Whether `--help` must hide the variable's current value.
    const IS_SECRET: bool = false;

    /// The row's default as a value.
    fn from_literal(literal: Self::Literal) -> Self::Value;

    /// The clap value parser for [`Self::Arg`]: text, unless the kind says
    /// otherwise (clap's debug assertions catch a parser that does not yield `Arg`).
    fn arg_parser() -> ValueParser {
        ValueParser::string()
    }

    /// Parses the flag's or variable's text; the error names no variable (the
    /// caller adds it).
    fn from_arg(arg: &Self::Arg) -> Result<Self::Value, String>;

    /// Reads the TOML value at `key`.
    fn from_file<'de, D: Deserializer<'de>>(d: D, _key: &str) -> Result<Self::Value, D::Error> {
        Self::Value::deserialize(d)
    }
}

/// A TOML string; the flag's text as given.
#[derive(Debug)]
pub(super) struct Text;

impl Kind for Text {
    type Arg = String;
    type Value = String;
    type Literal = &'static str;

    fn from_literal(literal: &'static str) -> String {
        literal.to_owned()
    }

    fn from_arg(arg: &String) -> Result<String, String> {
        Ok(arg.clone())
    }
}

/// A TOML string holding a path; clap refuses an empty one.
#[derive(Debug)]
pub(super) struct Path;

impl Kind for Path {
    type Arg = PathBuf;
    type Value = PathBuf;
    type Literal = &'static str;

    fn from_literal(literal: &'static str) -> PathBuf {
        PathBuf::from(literal)
    }

    fn arg_parser() -> ValueParser {
        ValueParser::path_buf()
    }

    fn from_arg(arg: &PathBuf) -> Result<PathBuf, String> {
        Ok(arg.clone())
    }
}

/// A TOML string that must never be printed: `--help` hides the variable's value,
/// `Debug` redacts it, and a wrongly typed TOML value is refused without echoing it.
#[derive(Debug)]
pub(super) struct Secret;

impl Kind for Secret {
    type Arg = SecretString;
    type Value = SecretString;
    /// A secret has no default written down.
    type Literal = std::convert::Infallible;
    const IS_SECRET: bool = true;

    fn from_literal(literal: std::convert::Infallible) -> SecretString {
        match literal {}
    }

    fn arg_parser() -> ValueParser {
        ValueParser::new(|raw: &str| Ok::<_, std::convert::Infallible>(SecretString::from(raw.to_owned())))
    }

    fn from_arg(arg: &SecretString) -> Result<SecretString, String> {
        Ok(arg.clone())
    }

    /// serde's own message would quote the value ("invalid type: integer `…`").
    fn from_file<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<SecretString, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(SecretString::from(s)),
            _ => Err(serde::de::Error::custom(format!("`{key}` must be a quoted string"))),
        }
    }
}

/// A TOML boolean; the flag takes true/false, yes/no, on/off or 1/0.
#[derive(Debug)]
pub(super) struct Bool;

impl Kind for Bool {
    type Arg = String;
    type Value = bool;
    type Literal = bool;

    fn from_literal(literal: bool) -> bool {
        literal
    }

    fn from_arg(arg: &String) -> Result<bool, String> {
        match arg.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            other => Err(format!("`{other}` is not a boolean (true or false)")),
        }
    }
}

/// A TOML list of strings; the flag takes them comma-separated (empty entries dropped).
#[derive(Debug)]
pub(super) struct List;

impl Kind for List {
    type Arg = String;
    type Value = Vec<String>;
    type Literal = &'static str;

    fn from_literal(literal: &'static str) -> Vec<String> {
        Self::from_arg(&literal.to_owned()).unwrap_or_default()
    }

    fn from_arg(arg: &String) -> Result<Vec<String>, String> {
        Ok(arg.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }
}

/// Whole-number kinds, which differ only in the unit their message names.
macro_rules! whole_number_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident: $unit:literal;)*) => {$(
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub(super) struct $kind;

        impl Kind for $kind {
            type Arg = String;
            type Value = u64;
            type Literal = u64;

            fn from_literal(literal: u64) -> u64 {
                literal
            }

            fn from_arg(arg: &String) -> Result<u64, String> {
                arg.trim().parse::<u64>().map_err(|_| format!("`{arg}` is not a whole number of {}", $unit))
            }
        }
    )*};
}

whole_number_kinds! {
    /// A TOML integer counting seconds.
    Seconds: "seconds";
    /// A TOML integer counting percent of something (a token's lifetime).
    Percent: "percent";
    /// A TOML integer counting connections.
    Connections: "connections";
}

/// Reads one TOML value of kind `K` through [`Kind::from_file`], inside the
/// value's span so toml reports its line.
pub(super) struct FileSeed<K> {
    key: &'static str,
    kind: std::marker::PhantomData<K>,
}

impl<K> FileSeed<K> {
    pub(super) fn new(key: &'static str) -> Self {
        Self { key, kind: std::marker::PhantomData }
    }
}

impl<'de, K: Kind> serde::de::DeserializeSeed<'de> for FileSeed<K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
        K::from_file(d, self.key)
    }
}
