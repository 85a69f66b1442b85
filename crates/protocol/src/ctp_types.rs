//! Small types shared by every CTP struct: the `char` code, field validation and the
//! error that names the offending field.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A CTP `char` field such as `Direction` (`'0'` buy, `'1'` sell).
///
/// On the wire it is a one-character string, as webctp sends it; an unset code (NUL)
/// is `""`, as the Python webctp projects send it (`"\u0000"` would be truthy in
/// Python and JavaScript). `""` and `"\u0000"` are both read as NUL in requests.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CtpChar(pub u8);

impl CtpChar {
    /// The unset code.
    pub const NUL: CtpChar = CtpChar(0);

    /// The code as a `char`.
    pub fn as_char(self) -> char {
        char::from(self.0)
    }

    /// Whether a code is set (not NUL).
    pub fn is_set(self) -> bool {
        self.0 != 0
    }
}

impl From<char> for CtpChar {
    /// Codes are ASCII; anything else becomes NUL.
    fn from(c: char) -> CtpChar {
        if c.is_ascii() {
            CtpChar(c as u8)
        } else {
            CtpChar::NUL
        }
    }
}

impl fmt::Debug for CtpChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_char())
    }
}

impl Serialize for CtpChar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_set() {
            s.serialize_char(self.as_char())
        } else {
            s.serialize_str("")
        }
    }
}

impl<'de> Deserialize<'de> for CtpChar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CtpChar, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CtpChar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a one-character CTP code such as \"0\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<CtpChar, E> {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (None, _) => Ok(CtpChar::NUL),
                    (Some(c), None) if c.is_ascii() => Ok(CtpChar(c as u8)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }
            fn visit_char<E: de::Error>(self, c: char) -> Result<CtpChar, E> {
                self.visit_str(c.encode_utf8(&mut [0; 4]))
            }
        }
        d.deserialize_str(V)
    }
}

/// A request field that cannot be accepted, with the path of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `InputOrder.LimitPrice` (may be empty).
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error about the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Converts a serde error, keeping the path and shortening serde's wording.
    pub fn from_serde(e: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
        let path = e.path().to_string();
        let mut message = e.inner().to_string();
        // "unknown field `X`, expected one of ..." lists dozens of CTP fields.
        if let Some(i) = message.find(", expected one of") {
            message.truncate(i);
        }
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        let path = if path == "." { String::new() } else { path };
        // serde quotes the offending value; a secret must not travel back or into logs.
        if is_secret(&path) {
            message = "has the wrong type or value (not shown: the field is secret)".into();
        }
        FieldError { path, message }
    }

    /// Prefixes the path with the name of the enclosing object.
    pub fn within(mut self, parent: &str) -> FieldError {
        self.path = if self.path.is_empty() {
            parent.to_string()
        } else {
            format!("{parent}.{}", self.path)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FieldError {}

/// Whether a field path names a secret (passwords, auth codes, tokens).
pub fn is_secret(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.contains("password") || p.contains("authcode") || p.contains("token")
}

/// Checks a struct against the limits of its C twin.
pub trait Validate {
    /// Fails on the first field that the C struct cannot hold.
    fn validate(&self) -> Result<(), FieldError>;
}

/// Checks that `value` fits a `char[max + 1]` field once encoded as GBK, and has no NUL
/// (which C would read as the end of the string).
pub fn check_str(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    let len = if value.is_ascii() {
        value.len()
    } else {
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode(value);
        if unmappable {
            return Err(FieldError::new(field, "has characters GBK cannot encode"));
        }
        bytes.len()
    };
    if len > max {
        return Err(FieldError::new(
            field,
            format!("is {len} bytes long; CTP allows at most {max}"),
        ));
    }
    // No CTP field holds control characters; in a UserID they would forge log lines.
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(FieldError::new(
            field,
            if c == '\0' {
                "contains a NUL character".to_string()
            } else {
                format!("contains a control character (U+{:04X})", c as u32)
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_round_trip() {
        let c: CtpChar = serde_json::from_str("\"0\"").unwrap();
        assert_eq!(c, CtpChar(b'0'));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"0\"");
        assert_eq!(serde_json::to_string(&CtpChar::NUL).unwrap(), "\"\"");
        let n: CtpChar = serde_json::from_str("\"\"").unwrap();
        assert_eq!(n, CtpChar::NUL);
        let n: CtpChar = serde_json::from_str("\"\\u0000\"").unwrap();
        assert_eq!(n, CtpChar::NUL);
        assert!(serde_json::from_str::<CtpChar>("\"01\"").is_err());
        assert!(serde_json::from_str::<CtpChar>("0").is_err());
        assert!(serde_json::from_str::<CtpChar>("\"买\"").is_err());
    }

    #[test]
    fn secrets_are_not_quoted_back() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code, non_snake_case)]
        struct Login {
            Password: String,
        }
        let v = serde_json::json!({"Password": 123456});
        let e =
            FieldError::from_serde(serde_path_to_error::deserialize::<_, Login>(v).unwrap_err());
        assert!(e.path.contains("Password"));
        assert!(!e.to_string().contains("123456"), "{e}");
    }

    #[test]
    fn string_limits_count_gbk_bytes() {
        assert!(check_str("UserID", "028742", 15).is_ok());
        assert!(check_str("UserID", &"x".repeat(16), 15).is_err());
        // Ten CJK characters are 30 bytes of UTF-8 but 20 of GBK.
        assert!(check_str("InstrumentName", &"黄".repeat(10), 20).is_ok());
        assert!(check_str("InstrumentName", &"黄".repeat(11), 20).is_err());
        assert!(check_str("UserID", "a\0b", 15).is_err());
    }
}
