//! The native crate's generated files: vtables, conversions, SPI callbacks.

use std::fmt::Write;

use super::*;
use crate::header::{CType, Headers, Method, Struct, short_name};
use crate::spec;

// ---------------------------------------------------------------------------
// crates/native/src/generated/vtables.rs

/// Rust spelling of a C parameter or return type in a vtable slot.
pub(super) fn rust_type(ty: &str, selected: &[&Struct]) -> String {
    match ty {
        "void" => "()".into(),
        "int" => "c_int".into(),
        "bool" => "bool".into(),
        "char*" => "*mut c_char".into(),
        "const char*" | "char const*" => "*const c_char".into(),
        "char*[]" => "*mut *mut c_char".into(),
        "THOST_TE_RESUME_TYPE" => "THOST_TE_RESUME_TYPE".into(),
        "CThostFtdcMdSpi*" => "*mut CThostFtdcMdSpi".into(),
        "CThostFtdcTraderSpi*" => "*mut CThostFtdcTraderSpi".into(),
        t => match t.strip_suffix('*') {
            Some(s) if is_selected(selected, s) => format!("*mut {s}"),
            Some(s) if s.starts_with("CThostFtdc") => "*mut c_void".into(),
            _ => panic!("unmapped C type {t}"),
        },
    }
}

pub(super) fn fn_type(class: &str, m: &Method, selected: &[&Struct]) -> String {
    let mut args = vec![format!("this: *mut {class}")];
    for p in &m.params {
        args.push(format!("{}: {}", p.name, rust_type(&p.ty, selected)));
    }
    let ret = rust_type(&m.ret, selected);
    if ret == "()" {
        format!("unsafe extern \"C\" fn({})", args.join(", "))
    } else {
        format!("unsafe extern \"C\" fn({}) -> {ret}", args.join(", "))
    }
}

pub fn vtables_rs(h: &Headers) -> String {
    let selected = selected_structs(h);
    let mut o = String::from(BANNER);
    o.push_str(
        "//! The C++ classes of the CTP API as `#[repr(C)]` objects: a pointer to a table of\n\
         //! function pointers in declaration order (the Itanium C++ ABI; none of the four\n\
         //! classes has a virtual destructor, so there are no destructor slots).\n\n\
         #![allow(non_snake_case, non_camel_case_types)]\n\n\
         use std::ffi::{c_char, c_int, c_void};\n\n\
         use super::ffi::*;\n\n\
         /// `THOST_TE_RESUME_TYPE`, a plain C enum.\n\
         pub type THOST_TE_RESUME_TYPE = c_int;\n\
         pub const THOST_TERT_RESTART: THOST_TE_RESUME_TYPE = 0;\n\
         pub const THOST_TERT_RESUME: THOST_TE_RESUME_TYPE = 1;\n\
         pub const THOST_TERT_QUICK: THOST_TE_RESUME_TYPE = 2;\n\
         pub const THOST_TERT_NONE: THOST_TE_RESUME_TYPE = 3;\n\n\
         /// A vtable with the two words the Itanium ABI puts before it (offset-to-top and\n\
         /// type info); an object's vtable pointer points at `vtbl`.\n\
         #[repr(C)]\n\
         pub struct Prefixed<V> {\n\
         \x20   pub offset_to_top: isize,\n\
         \x20   pub type_info: usize,\n\
         \x20   pub vtbl: V,\n\
         }\n\n\
         impl<V> Prefixed<V> {\n\
         \x20   pub const fn new(vtbl: V) -> Prefixed<V> {\n\
         \x20       Prefixed { offset_to_top: 0, type_info: 0, vtbl }\n\
         \x20   }\n\
         }\n\n",
    );
    for class in [
        "CThostFtdcMdSpi",
        "CThostFtdcMdApi",
        "CThostFtdcTraderSpi",
        "CThostFtdcTraderApi",
    ] {
        let c = h.class(class);
        let _ = writeln!(
            o,
            "/// A `{class}` object: its first word points at its vtable.\n#[repr(C)]\npub struct {class} {{\n    pub vtbl: *const {class}Vtbl,\n}}\n"
        );
        let _ = writeln!(
            o,
            "/// The vtable of `{class}` ({} slots).\n#[repr(C)]\npub struct {class}Vtbl {{",
            c.methods.len()
        );
        for m in &c.methods {
            doc_comment(&mut o, "    ", &m.doc);
            let _ = writeln!(o, "    pub {}: {},", m.name, fn_type(class, m, &selected));
        }
        o.push_str("}\n\n");
    }
    o.push_str("/// Slot counts, checked against the headers by the codegen test.\n");
    for class in [
        "CThostFtdcMdSpi",
        "CThostFtdcMdApi",
        "CThostFtdcTraderSpi",
        "CThostFtdcTraderApi",
    ] {
        let _ = writeln!(
            o,
            "pub const {}_SLOTS: usize = {};",
            class.trim_start_matches("CThostFtdc").to_uppercase(),
            h.class(class).methods.len()
        );
    }
    o
}

// ---------------------------------------------------------------------------
// crates/native/src/generated/convert.rs

pub fn convert_rs(h: &Headers) -> String {
    let selected = selected_structs(h);
    let mut o = String::from(BANNER);
    o.push_str(
        "//! Conversions between the C structs (GBK, fixed arrays) and the protocol structs\n\
         //! (UTF-8 strings).\n\n\
         #![allow(clippy::field_reassign_with_default)]\n\n\
         use webctp_protocol::CtpChar;\n\
         use webctp_protocol::fields::*;\n\n\
         use super::ffi::*;\n\
         use crate::cstr::{char_from_c, char_to_c, str_from_c, str_to_c};\n\n\
         /// A protocol struct that has a C twin.\n\
         pub trait CtpStruct: Sized {\n\
         \x20   type C: Default;\n\
         \x20   /// Reads the C struct (GBK strings are decoded).\n\
         \x20   fn from_c(c: &Self::C) -> Self;\n\
         \x20   /// Writes the C struct (strings are GBK-encoded and cut to the field size).\n\
         \x20   fn to_c(&self) -> Self::C;\n\
         }\n\n\
         // Keeps the import used when no struct has a char field.\n\
         const _: fn(u8) -> CtpChar = CtpChar;\n\n",
    );
    for s in &selected {
        let _ = writeln!(
            o,
            "impl CtpStruct for {} {{\n    type C = {};\n\n    fn from_c(c: &Self::C) -> Self {{\n        {} {{",
            s.short(),
            s.c_name,
            s.short()
        );
        for f in &s.fields {
            let expr = match f.ctype {
                CType::CharArray(_) => format!("str_from_c(&c.{})", f.name),
                CType::Char => format!("char_from_c(c.{})", f.name),
                _ => format!("c.{}", f.name),
            };
            let _ = writeln!(o, "            {}: {expr},", f.name);
        }
        o.push_str("        }\n    }\n\n    fn to_c(&self) -> Self::C {\n        let mut c = Self::C::default();\n");
        for f in &s.fields {
            let _ = match f.ctype {
                CType::CharArray(_) => {
                    writeln!(o, "        str_to_c(&self.{0}, &mut c.{0});", f.name)
                }
                CType::Char => writeln!(o, "        c.{0} = char_to_c(self.{0});", f.name),
                _ => writeln!(o, "        c.{0} = self.{0};", f.name),
            };
        }
        o.push_str("        c\n    }\n}\n\n");
    }
    o
}

// ---------------------------------------------------------------------------
// crates/native/src/generated/spi_glue.rs: SPI objects built in Rust, and request calls.

fn callback_body(m: &Method, selected: &[&Struct]) -> Option<(String, String)> {
    // (body key, expression building Option<Body>)
    let st = m.struct_param()?;
    if !is_selected(selected, st) || st == "CThostFtdcRspInfoField" {
        return None;
    }
    let short = short_name(st);
    let p = &m.params[0].name;
    Some((
        short.to_string(),
        format!("unsafe {{ {p}.as_ref() }}.map(|c| Body::from({short}::from_c(c)))"),
    ))
}

pub fn spi_glue_rs(h: &Headers) -> String {
    let selected = selected_structs(h);
    let mut o = String::from(BANNER);
    o.push_str(
        "//! SPI objects implemented in Rust: every callback of the library's threads is turned\n\
         //! into a [`Reply`] or a connection event for a [`SpiSink`](crate::spi::SpiSink), inside\n\
         //! `catch_unwind` so that no panic unwinds into C++. Also the request calls into\n\
         //! the API objects.\n\n\
         #![allow(non_snake_case)]\n\n\
         use std::ffi::{c_char, c_int, c_void};\n\n\
         use webctp_protocol::fields::*;\n\
         use webctp_protocol::{Reply, TdRequest};\n\n\
         use super::convert::CtpStruct;\n\
         use super::ffi::*;\n\
         use super::vtables::*;\n\
         use crate::spi::with_sink;\n\n",
    );
    let mut wanted: Vec<String> = spec::TD_REQUESTS
        .iter()
        .map(|r| spec::response_of(r))
        .collect();
    wanted.extend(spec::TD_PUSHES.iter().map(|s| s.to_string()));
    wanted.extend(spec::MD_CALLBACKS.iter().map(|s| s.to_string()));
    for (class, prefix) in [("CThostFtdcMdSpi", "md"), ("CThostFtdcTraderSpi", "td")] {
        let c = h.class(class);
        for m in &c.methods {
            let args: Vec<String> = m
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name, rust_type(&p.ty, &selected)))
                .collect();
            let _ = writeln!(
                o,
                "unsafe extern \"C\" fn {prefix}_{}(this: *mut {class}{}{}) {{",
                m.name,
                if args.is_empty() { "" } else { ", " },
                args.join(", ")
            );
            let msg = m.name.trim_start_matches("On");
            let names: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
            let body = match m.name.as_str() {
                "OnFrontConnected" => "with_sink(this.cast(), |s| s.front_connected());".to_string(),
                "OnFrontDisconnected" => format!("with_sink(this.cast(), |s| s.front_disconnected({}));", names[0]),
                "OnHeartBeatWarning" => format!("with_sink(this.cast(), |s| s.heartbeat_warning({}));", names[0]),
                // Settlement text arrives in chunks that may split a GBK character, so
                // the raw bytes go to the sink to be joined before decoding.
                "OnRspQrySettlementInfo" => "with_sink(this.cast(), |s| {\n        let raw = unsafe { pSettlementInfo.as_ref() }.map(|c| (SettlementInfo::from_c(c), crate::cstr::raw_bytes(&c.Content).to_vec()));\n        let info = unsafe { pRspInfo.as_ref() }.map(RspInfo::from_c);\n        s.settlement_chunk(raw, info, nRequestID, bIsLast)\n    });".to_string(),
                "OnRspError" => "with_sink(this.cast(), |s| {\n        let info = unsafe { pRspInfo.as_ref() }.map(RspInfo::from_c);\n        s.reply(Reply::response(\"RspError\", \"\", None, info, nRequestID, bIsLast))\n    });".to_string(),
                _ => {
                    let is_wanted = wanted.iter().any(|w| w == &m.name)
                        && callback_body(m, &selected).is_some();
                    if !is_wanted {
                        let mut s = String::new();
                        for n in &names {
                            let _ = write!(s, "let _ = {n};\n    ");
                        }
                        let _ = write!(s, "with_sink(this.cast(), |s| s.unhandled(\"{}\"));", m.name);
                        s
                    } else {
                        let (key, expr) = callback_body(m, &selected).unwrap_or_default();
                        if names.len() == 4 {
                            format!(
                                "with_sink(this.cast(), |s| {{\n        let body = {expr};\n        let info = unsafe {{ {0}.as_ref() }}.map(RspInfo::from_c);\n        s.reply(Reply::response(\"{msg}\", \"{key}\", body, info, {1}, {2}))\n    }});",
                                names[1], names[2], names[3]
                            )
                        } else if names.len() == 2 {
                            format!(
                                "with_sink(this.cast(), |s| {{\n        let body = {expr};\n        let info = unsafe {{ {0}.as_ref() }}.map(RspInfo::from_c);\n        s.reply(Reply::push(\"{msg}\", \"{key}\", body, info))\n    }});",
                                names[1]
                            )
                        } else {
                            format!(
                                "with_sink(this.cast(), |s| {{\n        let body = {expr};\n        s.reply(Reply::push(\"{msg}\", \"{key}\", body, None))\n    }});"
                            )
                        }
                    }
                }
            };
            let _ = writeln!(o, "    {body}\n}}\n");
        }
        let _ = writeln!(
            o,
            "/// The vtable of the Rust-built `{class}`.\npub static {}_SPI_VTBL: Prefixed<{class}Vtbl> = Prefixed::new({class}Vtbl {{",
            prefix.to_uppercase()
        );
        for m in &c.methods {
            let _ = writeln!(o, "    {0}: {prefix}_{0},", m.name);
        }
        o.push_str("});\n\n");
    }
    // Request calls.
    let api = h.class("CThostFtdcTraderApi");
    o.push_str(
        "/// Calls the API method of a trading request. Returns the library's return code\n\
         /// (0, or -1/-2/-3 when the request was not sent).\n\
         ///\n\
         /// # Safety\n\
         /// `api` must point at a live `CThostFtdcTraderApi`.\n\
         pub unsafe fn trader_request(api: *mut CThostFtdcTraderApi, req: &TdRequest, request_id: c_int) -> c_int {\n\
         \x20   let vtbl = unsafe { &*(*api).vtbl };\n\
         \x20   match req {\n",
    );
    for req in spec::TD_REQUESTS {
        let _ = method(api, req);
        let _ = writeln!(
            o,
            "        TdRequest::{req}(b) => {{\n            let mut c = b.to_c();\n            unsafe {{ (vtbl.{req})(api, &mut c, request_id) }}\n        }}"
        );
    }
    o.push_str("    }\n}\n\n");
    o.push_str("// Keep the generic imports used in every configuration.\nconst _: Option<(*const c_char, *const c_void)> = None;\n");
    o
}
