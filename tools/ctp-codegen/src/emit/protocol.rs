//! The protocol crate's generated files: CTP's structs as JSON, the trading requests.

use std::fmt::Write;

use super::*;
use crate::header::{CType, Headers, short_name};
use crate::spec;

// ---------------------------------------------------------------------------
// crates/protocol/src/generated/fields.rs

pub fn fields_rs(h: &Headers) -> String {
    let selected = selected_structs(h);
    let mut o = String::from(BANNER);
    o.push_str(
        "//! CTP's data structures as the webctp protocol carries them: field names, order and\n\
         //! types exactly as in `ThostFtdcUserApiStruct.h`. `char[N]` fields are UTF-8 strings\n\
         //! that must fit N-1 bytes once encoded as GBK; `char` codes are [`CtpChar`].\n\n\
         #![allow(non_snake_case)]\n\n\
         use serde::{Deserialize, Serialize};\n\n\
         use crate::ctp_types::{CtpChar, FieldError, Validate, check_str};\n\
         use crate::wire;\n\n",
    );
    for s in &selected {
        doc_comment(&mut o, "", &s.doc);
        let _ = writeln!(
            o,
            "#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]"
        );
        // Unknown keys are not refused here: the parser names them (serde_ignored) and
        // the gateway ignores them, as the Python webctp projects do, or refuses them
        // when configured `Strict`.
        let _ = writeln!(o, "#[serde(default)]");
        let _ = writeln!(o, "pub struct {} {{", s.short());
        let is_depth = s.c_name == DEPTH_MARKET_DATA;
        for f in &s.fields {
            let ty = match f.ctype {
                CType::Char => "CtpChar".to_string(),
                CType::CharArray(_) => "String".to_string(),
                CType::Int => "i32".to_string(),
                CType::Short => "i16".to_string(),
                CType::Double => "f64".to_string(),
            };
            let doc = match f.ctype {
                CType::CharArray(n) => {
                    format!("{} ({}, at most {} bytes)", f.doc, f.typedef, n - 1)
                }
                _ => format!("{} ({})", f.doc, f.typedef),
            };
            doc_comment(&mut o, "    ", &doc);
            if f.name.starts_with("reserve") && ty == "String" && !is_depth {
                // Dead fields kept for ABI compatibility: sent only when set. The
                // Python projects send DepthMarketData's two always, so webctp does too.
                let _ = writeln!(
                    o,
                    "    #[serde(skip_serializing_if = \"String::is_empty\")]"
                );
            }
            if is_depth && is_market_price(f) {
                let _ = writeln!(o, "    #[serde(serialize_with = \"wire::ser_price\")]");
            }
            let _ = writeln!(o, "    pub {}: {},", f.name, ty);
        }
        o.push_str("}\n\n");
        let checks: Vec<&crate::header::Field> = s
            .fields
            .iter()
            .filter(|f| matches!(f.ctype, CType::CharArray(_)))
            .collect();
        let _ = writeln!(o, "impl Validate for {} {{", s.short());
        if checks.is_empty() {
            o.push_str(
                "    fn validate(&self) -> Result<(), FieldError> {\n        Ok(())\n    }\n",
            );
        } else {
            o.push_str("    fn validate(&self) -> Result<(), FieldError> {\n");
            for f in checks {
                if let CType::CharArray(n) = f.ctype {
                    let _ = writeln!(
                        o,
                        "        check_str(\"{0}\", &self.{0}, {1})?;",
                        f.name,
                        n - 1
                    );
                }
            }
            o.push_str("        Ok(())\n    }\n");
        }
        o.push_str("}\n\n");
    }
    // A hand-unrolled JSON writer for the struct sent once per tick.
    if let Some(s) = selected.iter().find(|s| s.c_name == DEPTH_MARKET_DATA) {
        let _ = writeln!(
            o,
            "impl {0} {{\n    /// Writes the same JSON as serde does, without serde's per-field work: this\n    /// runs once per tick.\n    pub fn write_json(&self, out: &mut Vec<u8>) {{\n        out.push(b'{{');",
            s.short()
        );
        let mut first = true;
        for f in &s.fields {
            let sep = if first { "" } else { "," };
            let key = format!("{sep}\\\"{}\\\":", f.name);
            let push = match f.ctype {
                CType::CharArray(_) => format!("wire::push_str(out, &self.{});", f.name),
                CType::Char => format!("wire::push_char(out, self.{});", f.name),
                CType::Double if is_market_price(f) => {
                    format!("wire::push_price(out, self.{});", f.name)
                }
                CType::Double => format!("wire::push_f64(out, self.{});", f.name),
                CType::Int | CType::Short => {
                    format!("wire::push_int(out, i64::from(self.{}));", f.name)
                }
            };
            let _ = writeln!(
                o,
                "        out.extend_from_slice(b\"{key}\");\n        {push}"
            );
            first = false;
        }
        o.push_str("        out.push(b'}');\n    }\n}\n\n");
    }
    // The body of any message.
    o.push_str(
        "/// The body of a response or push: one of the structs above.\n\
         #[derive(Debug, Clone, PartialEq, Serialize)]\n\
         #[serde(untagged)]\n\
         pub enum Body {\n",
    );
    for s in &selected {
        let _ = writeln!(o, "    {0}(Box<{0}>),", s.short());
    }
    o.push_str("}\n\nimpl Body {\n    /// The JSON key the body travels under (the struct's name).\n    pub fn key(&self) -> &'static str {\n        match self {\n");
    for s in &selected {
        let _ = writeln!(o, "            Body::{0}(_) => \"{0}\",", s.short());
    }
    o.push_str("        }\n    }\n}\n");
    for s in &selected {
        let _ = writeln!(
            o,
            "\nimpl From<{0}> for Body {{\n    fn from(v: {0}) -> Body {{\n        Body::{0}(Box::new(v))\n    }}\n}}",
            s.short()
        );
    }
    o
}

// ---------------------------------------------------------------------------
// crates/protocol/src/generated/td_requests.rs

pub fn td_requests_rs(h: &Headers) -> String {
    let api = h.class("CThostFtdcTraderApi");
    let spi = h.class("CThostFtdcTraderSpi");
    let mut o = String::from(BANNER);
    o.push_str(
        "//! The trading requests of the webctp protocol: one variant per MsgType, each\n\
         //! carrying its CTP struct, and the table that names their bodies and answers.\n\n\
         use super::fields::*;\n\
         use crate::ctp_types::{FieldError, Validate};\n\n\
         /// A trading request (the `/td/` endpoint).\n\
         #[derive(Debug, Clone, PartialEq)]\n\
         pub enum TdRequest {\n",
    );
    for req in spec::TD_REQUESTS {
        let m = method(api, req);
        let st = short_name(m.struct_param().unwrap_or_default());
        doc_comment(&mut o, "    ", &m.doc);
        let _ = writeln!(o, "    {req}({st}),");
    }
    o.push_str("}\n\n");
    o.push_str(
        "/// What the protocol says about one request kind.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub struct TdRequestSpec {\n\
         \x20   /// The request MsgType, e.g. `ReqQryOrder`.\n\
         \x20   pub msg_type: &'static str,\n\
         \x20   /// The JSON key of the request body, e.g. `QryOrder`.\n\
         \x20   pub body_key: &'static str,\n\
         \x20   /// The MsgType of its answers, e.g. `RspQryOrder`.\n\
         \x20   pub response: &'static str,\n\
         \x20   /// The JSON key of the answer bodies, e.g. `Order`.\n\
         \x20   pub response_body_key: &'static str,\n\
         \x20   /// A `ReqQry*` request, subject to CTP's query flow control.\n\
         \x20   pub is_query: bool,\n\
         }\n\n\
         /// Every trading request, in the order of the CTP API.\n\
         pub const TD_REQUEST_SPECS: &[TdRequestSpec] = &[\n",
    );
    for req in spec::TD_REQUESTS {
        let m = method(api, req);
        let st = short_name(m.struct_param().unwrap_or_default());
        let rsp = method(spi, &spec::response_of(req));
        let rst = short_name(rsp.struct_param().unwrap_or_default());
        let _ = writeln!(
            o,
            "    TdRequestSpec {{\n        msg_type: \"{req}\",\n        body_key: \"{st}\",\n        response: \"{}\",\n        response_body_key: \"{rst}\",\n        is_query: {},\n    }},",
            rsp.name.trim_start_matches("On"),
            req.starts_with("ReqQry")
        );
    }
    o.push_str("];\n\n");
    o.push_str("impl TdRequest {\n    /// The protocol description of this request.\n    pub fn spec(&self) -> &'static TdRequestSpec {\n        match self {\n");
    for (i, req) in spec::TD_REQUESTS.iter().enumerate() {
        let _ = writeln!(
            o,
            "            TdRequest::{req}(_) => &TD_REQUEST_SPECS[{i}],"
        );
    }
    o.push_str("        }\n    }\n\n");
    o.push_str(
        "    /// Builds the request named `msg_type` from its JSON body; `None` if the name is\n\
         \x20   /// not a trading request. Keys the struct does not have are skipped and their\n\
         \x20   /// paths appended to `ignored`.\n\
         \x20   pub fn from_json(\n\
         \x20       msg_type: &str,\n\
         \x20       body: serde_json::Value,\n\
         \x20       ignored: &mut crate::request::IgnoredKeys,\n\
         \x20   ) -> Option<Result<TdRequest, FieldError>> {\n\
         \x20       Some(match msg_type {\n",
    );
    for req in spec::TD_REQUESTS {
        let _ = writeln!(
            o,
            "            \"{req}\" => body_from_json(body, ignored).map(TdRequest::{req}),"
        );
    }
    o.push_str("            _ => return None,\n        })\n    }\n\n");
    o.push_str("    /// The body as JSON (for clients that send requests).\n    pub fn body_to_json(&self) -> serde_json::Value {\n        let v = match self {\n");
    for req in spec::TD_REQUESTS {
        let _ = writeln!(
            o,
            "            TdRequest::{req}(b) => serde_json::to_value(b),"
        );
    }
    o.push_str("        };\n        v.unwrap_or(serde_json::Value::Null)\n    }\n\n");
    o.push_str("    /// Checks string lengths against the CTP field sizes.\n    pub fn validate(&self) -> Result<(), FieldError> {\n        match self {\n");
    for req in spec::TD_REQUESTS {
        let _ = writeln!(o, "            TdRequest::{req}(b) => b.validate(),");
    }
    o.push_str("        }\n    }\n}\n\n");
    o.push_str(
        "fn body_from_json<T: serde::de::DeserializeOwned>(\n\
         \x20   body: serde_json::Value,\n\
         \x20   ignored: &mut crate::request::IgnoredKeys,\n\
         ) -> Result<T, FieldError> {\n\
         \x20   crate::request::deserialize_body(body, ignored)\n\
         }\n",
    );
    o
}
