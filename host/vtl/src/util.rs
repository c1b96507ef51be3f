//! `$util` (`[DG:api-gateway-mapping-template-reference]`): `escapeJavaScript`, `parseJson`,
//! `urlEncode`, `urlDecode`, `base64Encode`, `base64Decode`, all UTF-8.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::error::RenderError;
use crate::value::Value;

/// Dispatches `$util.<name>(args)`; `None` if there is no such function.
pub(crate) fn call(name: &str, args: &[Value]) -> Result<Option<Value>, RenderError> {
    let Some(arg) = args.first() else {
        return Ok(None);
    };
    if args.len() != 1 {
        return Ok(None);
    }
    if arg.is_null() {
        // Java's helpers return null for null.
        return Ok(Some(Value::Null));
    }
    let s = arg.java_str()?;
    let out = match name {
        "escapeJavaScript" => Value::str(escape_javascript(&s)),
        "parseJson" => {
            let j: serde_json::Value = serde_json::from_str(&s)
                .map_err(|e| RenderError::new(format!("$util.parseJson: invalid JSON: {e}")))?;
            Value::from_json(&j)
        }
        "urlEncode" => Value::str(url_encode(&s)),
        "urlDecode" => Value::str(url_decode(&s)?),
        "base64Encode" => {
            Value::str(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
        }
        "base64Decode" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|e| RenderError::new(format!("$util.base64Decode: {e}")))?;
            Value::str(String::from_utf8_lossy(&bytes).as_ref())
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// Commons-lang `StringEscapeUtils.escapeJavaScript`: `'` `"` `\` `/` escaped with a
/// backslash, control characters as `\b \t \n \f \r` or `\u00XX`, and every UTF-16 unit
/// above 0x7F as `\uXXXX` (upper-case hex).
pub(crate) fn escape_javascript(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    // Runs of printable ASCII that need no escape are copied whole; the first byte that
    // needs one (a control byte, a special character, or the lead byte of a non-ASCII
    // character) is always at a character boundary.
    while let Some(at) = rest
        .bytes()
        .position(|b| !(0x20..=0x7F).contains(&b) || matches!(b, b'\'' | b'"' | b'\\' | b'/'))
    {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().unwrap_or_default();
        let mut units = [0u16; 2];
        for &unit in c.encode_utf16(&mut units).iter() {
            match unit {
                0x08 => out.push_str("\\b"),
                0x09 => out.push_str("\\t"),
                0x0A => out.push_str("\\n"),
                0x0C => out.push_str("\\f"),
                0x0D => out.push_str("\\r"),
                0x27 => out.push_str("\\'"),
                0x22 => out.push_str("\\\""),
                0x5C => out.push_str("\\\\"),
                0x2F => out.push_str("\\/"),
                u => {
                    let _ = write!(out, "\\u{u:04X}");
                }
            }
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// Java `URLEncoder.encode(s, "UTF-8")`: letters, digits and `. - * _` stay, space becomes
/// `+`, every other byte `%XX`.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Java `URLDecoder.decode(s, "UTF-8")`: `+` is a space, `%XX` a byte; a malformed escape is
/// an error, as Java throws.
pub(crate) fn url_decode(s: &str) -> Result<String, RenderError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        RenderError::new("$util.urlDecode: illegal hex characters in escape (%)")
                    })?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_commons_lang() {
        assert_eq!(
            escape_javascript("it's \"x\" a/b\n"),
            "it\\'s \\\"x\\\" a\\/b\\n"
        );
        assert_eq!(escape_javascript("é\u{1}"), "\\u00E9\\u0001");
        // Outside the BMP: two UTF-16 units, as Java strings hold it; DEL stays as it is.
        assert_eq!(escape_javascript("a😀b\u{7F}"), "a\\uD83D\\uDE00b\u{7F}");
        assert_eq!(escape_javascript(""), "");
        assert_eq!(escape_javascript("plain"), "plain");
        assert_eq!(url_encode("a b&c=d/é*"), "a+b%26c%3Dd%2F%C3%A9*");
        assert_eq!(url_decode("a+b%26").ok(), Some("a b&".to_string()));
        assert!(url_decode("%zz").is_err());
    }
}
