//! One setting, declared once: the `settings!` macro that turns a row (help,
//! variable, kind, default, range, TOML key) into the flag and its help line,
//! the TOML key and the merged value (the kinds are in `kinds.rs`).

use super::kinds::Kind;
use crate::provider::Preset;

/// One setting's merged raw value: the flag or variable if given (clap has
/// already preferred the flag), else the file's value, else none; and the
/// row's default and range, which validation applies. A default that depends
/// on other settings (the provider, `--dev`) is not in the row but in the
/// group's validation; the row only describes it for `--help`.
#[derive(Debug)]
pub(super) struct Setting<K: Kind> {
    /// The environment variable, which names the setting in every problem.
    pub(super) var: &'static str,
    /// The TOML table (`""` at the top level) and key.
    location: (&'static str, &'static str),
    given: Option<Given<K>>,
    /// The row's `default`, when it has a fixed one.
    pub(super) default: Option<K::Value>,
    /// The row's `range`, inclusive, for whole-number kinds.
    pub(super) range: Option<(u64, u64)>,
}

/// Where a setting's value came from.
#[derive(Debug)]
enum Given<K: Kind> {
    Arg(K::Arg),
    File(K::Value),
}

impl<K: Kind> Setting<K> {
    /// Precedence: flag or variable, then the file.
    pub(super) fn merge(
        var: &'static str,
        location: (&'static str, &'static str),
        arg: Option<K::Arg>,
        file: Option<K::Value>,
    ) -> Self {
        let given = arg.map(Given::Arg).or(file.map(Given::File));
        Self { var, location, given, default: None, range: None }
    }

    /// With the row's fixed default.
    pub(super) fn with_default(self, literal: K::Literal) -> Self {
        Self { default: Some(K::from_literal(literal)), ..self }
    }

    /// With the row's range of whole numbers (inclusive).
    pub(super) fn with_range(self, range: std::ops::RangeInclusive<u64>) -> Self {
        Self { range: Some(range.into_inner()), ..self }
    }

    /// Whether the flag, the variable or the file gave a value.
    pub(super) fn is_set(&self) -> bool {
        self.given.is_some()
    }

    /// The typed value: `Ok(None)` when unset, `Err` when the flag's or variable's
    /// text does not parse (the message then names neither).
    pub(super) fn value(&self) -> Result<Option<K::Value>, String> {
        match &self.given {
            None => Ok(None),
            Some(Given::Arg(arg)) => K::from_arg(arg).map(Some),
            Some(Given::File(value)) => Ok(Some(value.clone())),
        }
    }

    /// Where a problem with the current value should point: for a value from the
    /// file, its key there (`[cache].min_ttl_secs`), as the variable is not set.
    pub(super) fn file_key(&self) -> Option<String> {
        match (&self.given, self.location) {
            (Some(Given::File(_)), ("", key)) => Some(key.to_owned()),
            (Some(Given::File(_)), (table, key)) => Some(format!("[{table}].{key}")),
            _ => None,
        }
    }
}

/// `BIND_ADDR` → `bind-addr`, at compile time (see `flag_name!`).
pub(super) const fn flag_bytes<const N: usize>(var: &str) -> [u8; N] {
    let bytes = var.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = match bytes[i] {
            b'_' => b'-',
            b => b.to_ascii_lowercase(),
        };
        i += 1;
    }
    out
}

/// The flag of a variable, as a `&'static str` computed at compile time: each
/// flag is named after its variable in kebab case, so the two cannot drift apart.
macro_rules! flag_name {
    ($var:literal) => {{
        const BYTES: [u8; $var.len()] = $crate::config::setting::flag_bytes($var);
        const NAME: &str = match ::std::str::from_utf8(&BYTES) {
            Ok(name) => name,
            Err(_) => panic!("variable names are ASCII"),
        };
        NAME
    }};
}

/// Declares every plain setting once. Each row gives the help line, the field,
/// the [`Kind`], the environment variable (the flag is derived from it), an
/// optional hidden alias and value name, the default (`default` with a fixed
/// value, which validation applies; or `default_note`, the words for `--help`
/// where the default depends on other settings and validation computes it), the
/// range of a whole number, and the TOML table and key:
///
/// ```text
/// /// Address to listen on
/// bind_addr: Text = "BIND_ADDR", default "127.0.0.1:3000", toml [] "bind_addr";
/// /// A token with less life left is never served
/// token_min_ttl_secs: Seconds = "TOKEN_MIN_TTL_SECS", default 30, range 0..=3600, toml [cache] "min_ttl_secs";
/// ```
///
/// and the table expands to three things: `SettingArgs`, the clap flags (each
/// with `env`, the help line ending in `[default: …]`, alias and, for secrets,
/// `hide_env_values`), flattened into [`Cli`](super::Cli); `FileValues`, the
/// TOML keys, read by `file.rs`; and `Settings`, one merged [`Setting`] per row
/// with its default and range, which validation reads.
///
/// Why a macro rather than derives: clap's derive and serde's derive cannot
/// share one struct, because the file is sectioned (`[oauth].client_id` is the
/// flag `--oauth-client-id`) while the flags are flat, and because the merged
/// value must carry where it came from. Named tables (`[profiles.NAME]`) are maps,
/// not settings, and stay outside the table, in `file.rs`.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $kind:ty = $var:literal
            $(, alias $alias:literal)?
            $(, value_name $value_name:literal)?
            $(, default $default:literal)?
            $(, default_note $note:expr)?
            $(, range $low:literal ..= $high:literal)?
            , toml [$($table:ident)?] $key:literal;
    )*) => {
        /// Every plain setting as a flag with its environment variable; flattened
        /// into [`Cli`](super::Cli).
        #[derive(Debug, clap::Args)]
        pub(super) struct SettingArgs {
            $(
                #[arg(
                    help = $crate::config::setting::help_line(
                        concat!($($doc),*),
                        None$(.or(Some(concat!($default).to_owned())))?$(.or(Some(String::from($note))))?,
                    ),
                    global = true,
                    long = $crate::config::setting::flag_name!($var),
                    env = $var,
                    value_name = [$($value_name,)? $var][0],
                    $(alias = $alias,)?
                    hide_env_values = <$kind as $crate::config::kinds::Kind>::IS_SECRET,
                    // A generated secret may begin with `-`; as a flag's value it is
                    // still the value (`--oauth-client-secret -Kx…`), not a flag.
                    allow_hyphen_values = <$kind as $crate::config::kinds::Kind>::IS_SECRET,
                    value_parser = <$kind as $crate::config::kinds::Kind>::arg_parser(),
                )]
                $field: Option<<$kind as $crate::config::kinds::Kind>::Arg>,
            )*
        }

        /// Every plain setting's TOML value, as read from the file.
        #[derive(Debug, Default)]
        pub(super) struct FileValues {
            $($field: Option<<$kind as $crate::config::kinds::Kind>::Value>,)*
        }

        impl FileValues {
            /// The table (`""` for the top level) and key of every setting.
            pub(super) const LOCATIONS: &[(&str, &str)] = &[$((stringify!($($table)?), $key)),*];

            /// Reads the value of `[table].key` from `map`; the key is one of
            /// [`Self::LOCATIONS`] (the caller checked it).
            pub(super) fn read<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                table: &str,
                key: &str,
                map: &mut A,
            ) -> Result<(), A::Error> {
                $(
                    if (table, key) == (stringify!($($table)?), $key) {
                        let seed = $crate::config::kinds::FileSeed::<$kind>::new($key);
                        self.$field = Some(map.next_value_seed(seed)?);
                        return Ok(());
                    }
                )*
                Err(serde::de::Error::custom(format!("unknown key `{key}`")))
            }
        }

        /// Every plain setting, merged: flag or variable, else file, else unset.
        #[derive(Debug)]
        pub(super) struct Settings {
            $(
                $(#[doc = $doc])*
                pub(super) $field: $crate::config::setting::Setting<$kind>,
            )*
        }

        impl Settings {
            pub(super) fn merge(args: SettingArgs, file: FileValues) -> Self {
                Self {
                    $($field: $crate::config::setting::Setting::merge(
                        $var,
                        (stringify!($($table)?), $key),
                        args.$field,
                        file.$field,
                    )$(.with_default($default))?$(.with_range($low..=$high))?,)*
                }
            }

        }
    };
}

pub(super) use {flag_name, settings};

/// A row's help line: its doc text, then `[default: …]` when the row has a
/// default or describes one.
pub(super) fn help_line(doc: &str, default: Option<String>) -> String {
    match default {
        Some(default) => format!("{} [default: {default}]", doc.trim()),
        None => doc.trim().to_owned(),
    }
}

/// Describes a default that each provider preset sets: the most common value,
/// then the exceptions (`basic; post for the glimesh preset`), written from the
/// presets' own defaults so the help cannot drift from them.
pub(super) fn by_preset(default_of: impl Fn(Preset) -> &'static str) -> String {
    let mut values: Vec<(&str, Vec<&str>)> = Vec::new();
    for preset in Preset::ALL {
        let value = match default_of(preset) {
            "" => "none",
            value => value,
        };
        match values.iter_mut().find(|(v, _)| *v == value) {
            Some((_, presets)) => presets.push(preset.as_str()),
            None => values.push((value, vec![preset.as_str()])),
        }
    }
    // Stable: among equally common values, the first preset's comes first.
    values.sort_by_key(|(_, presets)| std::cmp::Reverse(presets.len()));
    let mut text = values.first().map_or(String::new(), |(value, _)| (*value).to_owned());
    for (value, presets) in values.iter().skip(1) {
        let noun = if presets.len() > 1 { "presets" } else { "preset" };
        text.push_str(&format!("; {value} for the {} {noun}", presets.join(" and ")));
    }
    text
}
