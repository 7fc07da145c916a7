//! The optional TOML file (`TOKEN_BACKEND_CONFIG`): the settings of the table in
//! `settings.rs` at their `[table].key`, plus the named tables (`[profiles.NAME]`, `[apis.NAME]`).
//! Unknown keys are an error, so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::settings::FileValues;

/// Top-level tables that are maps of named entries rather than settings; each
/// has its own field below and its own arm in [`TopLevel::visit_map`].
const NAMED_TABLES: &[&str] = &["profiles", "apis"];

/// The TOML file.
#[derive(Debug, Default)]
pub(super) struct FileConfig {
    pub(super) values: FileValues,
    pub(super) profiles: BTreeMap<String, FileProfile>,
    /// The API proxy's `[apis.NAME]` tables, validated in `apis.rs`.
    pub(super) apis: BTreeMap<String, super::apis::FileApi>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileProfile {
    pub(super) scope: String,
    /// `client-credentials` (the default) or `jwt-bearer`, checked in `grant.rs`.
    pub(super) grant: Option<String>,
    /// The jwt-bearer settings; each unset one falls back to `[oauth]`'s.
    pub(super) assertion_subject: Option<String>,
    pub(super) assertion_key_file: Option<std::path::PathBuf>,
    pub(super) assertion_key_id: Option<String>,
}

pub(super) fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|message| format!("{}{message}", path.display()))
}

/// The file's settings, or one line saying where and what is wrong: ` (line N): …`.
fn parse(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|e| {
        // Lines are counted up to the start of the offending key or value.
        let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        // One line per problem: toml's message can span several.
        format!("{at}: {}", e.message().split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

// By hand rather than derived: the keys come from the settings table, which a
// derive cannot see. Keys are checked as they are read (in `Key`), so toml
// reports an unknown key at its own line, as serde's derive does.
impl<'de> Deserialize<'de> for FileConfig {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TopLevel)
    }
}

/// The top level: plain settings, setting tables (`[oauth]`, …) and named tables.
struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = FileConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileConfig, A::Error> {
        let mut file = FileConfig::default();
        while let Some(key) = map.next_key_seed(Key { table: "" })? {
            match key {
                Known::NamedTable("profiles") => file.profiles = map.next_value()?,
                Known::NamedTable("apis") => file.apis = map.next_value()?,
                Known::NamedTable(other) => return Err(de::Error::custom(format!("`{other}` is not read"))),
                Known::Table(table) => map.next_value_seed(Table { name: table, values: &mut file.values })?,
                Known::Setting(key) => file.values.read("", key, &mut map)?,
            }
        }
        Ok(file)
    }
}

/// A table of settings, such as `[oauth]`.
struct Table<'a> {
    name: &'static str,
    values: &'a mut FileValues,
}

impl<'de> DeserializeSeed<'de> for Table<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Table<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the table [{}]", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(Key { table: self.name })? {
            match key {
                Known::Setting(key) => self.values.read(self.name, key, &mut map)?,
                Known::Table(_) | Known::NamedTable(_) => return Err(de::Error::custom("tables do not nest")),
            }
        }
        Ok(())
    }
}

/// A key the file may hold, as a `'static` name from the settings table.
enum Known {
    Setting(&'static str),
    Table(&'static str),
    NamedTable(&'static str),
}

/// Reads one key of `table` (`""`: the top level) and refuses any the table
/// does not declare, with serde's wording for an unknown field.
struct Key {
    table: &'static str,
}

impl Key {
    /// Everything this table may hold, in declaration order.
    fn expected(&self) -> Vec<Known> {
        let mut known: Vec<Known> = FileValues::LOCATIONS
            .iter()
            .filter(|(table, _)| *table == self.table)
            .map(|(_, key)| Known::Setting(key))
            .collect();
        if self.table.is_empty() {
            for (table, _) in FileValues::LOCATIONS {
                if !table.is_empty() && !known.iter().any(|k| matches!(k, Known::Table(t) if t == table)) {
                    known.push(Known::Table(table));
                }
            }
            known.extend(NAMED_TABLES.iter().map(|name| Known::NamedTable(name)));
        }
        known
    }
}

impl Known {
    fn name(&self) -> &'static str {
        match self {
            Self::Setting(name) | Self::Table(name) | Self::NamedTable(name) => name,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Known;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Known, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Key {
    type Value = Known;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a setting's name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Known, E> {
        let expected = self.expected();
        match expected.into_iter().find(|known| known.name() == key) {
            Some(known) => Ok(known),
            None => {
                let names: Vec<String> = self.expected().iter().map(|k| format!("`{}`", k.name())).collect();
                Err(E::custom(format!("unknown field `{key}`, expected one of {}", names.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FileConfig;

    fn refused(text: &str) -> String {
        super::parse(text).expect_err("refused")
    }

    /// A typo inside a table is refused at its own line, naming the keys it could be.
    #[test]
    fn unknown_key_in_a_table_is_refused_at_its_line() {
        let message = refused("[oauth]\nprovider = \"aps\"\nscopes = \"x\"\n");
        assert!(message.starts_with(" (line 3): unknown field `scopes`, expected one of `provider`"), "{message}");
        let message = refused("bind_addr = \"127.0.0.1:3000\"\n[oauht]\n");
        assert!(message.starts_with(" (line 2): unknown field `oauht`"), "{message}");
        assert!(message.contains("`oauth`") && message.contains("`profiles`"), "{message}");
    }

    /// A value of the wrong TOML type is refused at its line with serde's wording.
    #[test]
    fn wrongly_typed_value_is_refused_at_its_line() {
        let message = refused("[server]\nidle_timeout_secs = 1\nmax_connections = \"many\"\n");
        assert_eq!(message, " (line 3): invalid type: string \"many\", expected u64");
    }

    /// Every secret key refuses a non-string without quoting it back.
    #[test]
    fn wrongly_typed_secrets_are_not_echoed() {
        for (table, key) in [("oauth", "client_secret"), ("session", "secret"), ("redis", "url")] {
            let message = refused(&format!("[{table}]\n{key} = 8675309123\n"));
            assert!(!message.contains("8675309123"), "{message}");
            assert!(message.contains(&format!("`{key}` must be a quoted string")), "{message}");
        }
    }

    /// Settings land in their fields and named tables in theirs.
    #[test]
    fn settings_and_profiles_are_read() {
        let file: FileConfig = toml::from_str(
            "log_format = \"json\"\n[dev]\ntoken_ttl_secs = 300\n[profiles.data]\nscope = \"data:read\"\n",
        )
        .expect("valid file");
        assert_eq!(file.profiles["data"].scope, "data:read");
        let printed = format!("{:?}", file.values);
        assert!(
            printed.contains("log_format: Some(\"json\")") && printed.contains("dev_token_ttl_secs: Some(300)"),
            "{printed}"
        );
    }
}
