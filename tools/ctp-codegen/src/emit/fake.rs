//! The fake CTP library's generated files: the API side and the SPI calls.

use std::fmt::Write;

use super::native::rust_type;
use super::{BANNER, is_selected, selected_structs};
use crate::header::{Headers, short_name};
use crate::spec;

// ---------------------------------------------------------------------------
// fakectp/src/generated/api_glue.rs: the API side, for the fake library.

pub fn fake_api_glue_rs(h: &Headers) -> String {
    let selected = selected_structs(h);
    let mut o = String::from(BANNER);
    o.push_str(
        "//! The API objects of the fake CTP library: vtables whose request slots decode the C\n\
         //! struct and hand a protocol request to the engine; the other slots are in\n\
         //! `control`.\n\n\
         #![allow(non_snake_case)]\n\n\
         use std::ffi::{c_char, c_int, c_void};\n\n\
         use webctp_native::convert::CtpStruct;\n\
         use webctp_native::ffi::*;\n\
         use webctp_native::vtables::*;\n\
         use webctp_protocol::TdRequest;\n\
         use webctp_protocol::fields::*;\n\n\
         use crate::control::{self, md, td};\n\n",
    );
    let api = h.class("CThostFtdcTraderApi");
    for m in &api.methods {
        if !m.name.starts_with("Req") {
            continue;
        }
        let args: Vec<String> = m
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, rust_type(&p.ty, &selected)))
            .collect();
        let _ = writeln!(
            o,
            "unsafe extern \"C\" fn {}(this: *mut CThostFtdcTraderApi, {}) -> c_int {{",
            m.name,
            args.join(", ")
        );
        let p0 = &m.params[0].name;
        let rid = &m.params[1].name;
        if spec::TD_REQUESTS.contains(&m.name.as_str()) {
            let st = short_name(m.struct_param().unwrap_or_default());
            let _ = writeln!(
                o,
                "    control::guard(-1, || {{\n        let Some(c) = (unsafe {{ {p0}.as_ref() }}) else {{ return -1 }};\n        td::request(this, TdRequest::{}({st}::from_c(c)), {rid})\n    }})\n}}\n",
                m.name
            );
        } else {
            let _ = writeln!(
                o,
                "    let _ = ({p0}, {rid});\n    control::guard(-1, || td::unsupported(this, \"{}\"))\n}}\n",
                m.name
            );
        }
    }
    for (class, module) in [("CThostFtdcMdApi", "md"), ("CThostFtdcTraderApi", "td")] {
        let c = h.class(class);
        let _ = writeln!(
            o,
            "/// The vtable of the fake `{class}`.\npub static {}_API_VTBL: Prefixed<{class}Vtbl> = Prefixed::new({class}Vtbl {{",
            module.to_uppercase()
        );
        for m in &c.methods {
            if module == "td" && m.name.starts_with("Req") {
                let _ = writeln!(o, "    {0},", m.name);
            } else {
                let _ = writeln!(o, "    {0}: {module}::{0},", m.name);
            }
        }
        o.push_str("});\n\n");
    }
    o.push_str("// Keep the generic imports used in every configuration.\nconst _: Option<(*const c_char, *const c_void)> = None;\n");
    o
}

// ---------------------------------------------------------------------------
// fakectp/src/generated/spi_calls.rs: calling the client's SPI from a Reply.

pub fn fake_spi_calls_rs(h: &Headers) -> String {
    let selected = selected_structs(h);
    let mut o = String::from(BANNER);
    o.push_str(
        "//! Delivers a [`Reply`] to the client's SPI object by calling its vtable slot with\n\
         //! C structs, as the real library does from its own threads.\n\n\
         #![allow(non_snake_case)]\n\n\
         use std::ptr::null_mut;\n\n\
         use webctp_native::convert::CtpStruct;\n\
         use webctp_native::vtables::*;\n\
         use webctp_protocol::Reply;\n\
         use webctp_protocol::fields::*;\n\n",
    );
    for (class, fname) in [
        ("CThostFtdcMdSpi", "call_md_spi"),
        ("CThostFtdcTraderSpi", "call_td_spi"),
    ] {
        let c = h.class(class);
        let _ = writeln!(
            o,
            "/// Calls the slot of `{class}` that carries `r`. Returns false if none does.\n///\n/// # Safety\n/// `spi` must point at a live SPI object.\npub unsafe fn {fname}(spi: *mut {class}, r: &Reply) -> bool {{\n    let vtbl = unsafe {{ &*(*spi).vtbl }};\n    let mut info = r.rsp_info.as_ref().map(|i| i.to_c());\n    let pinfo = info.as_mut().map_or(null_mut(), |i| i as *mut _);\n    let rid = r.request_id.unwrap_or(0);\n    match r.msg_type {{"
        );
        for m in &c.methods {
            let msg = m.name.trim_start_matches("On");
            if m.name == "OnRspError" {
                let _ = writeln!(
                    o,
                    "        \"RspError\" => unsafe {{ (vtbl.OnRspError)(spi, pinfo, rid, r.is_last) }},"
                );
                continue;
            }
            let Some(st) = m.struct_param() else { continue };
            if !is_selected(&selected, st) {
                continue;
            }
            let short = short_name(st);
            let n = m.params.len();
            let call = match n {
                4 => format!("(vtbl.{})(spi, p, pinfo, rid, r.is_last)", m.name),
                2 => format!("(vtbl.{})(spi, p, pinfo)", m.name),
                1 => format!("(vtbl.{})(spi, p)", m.name),
                _ => continue,
            };
            let _ = writeln!(
                o,
                "        \"{msg}\" => {{\n            let mut c = match &r.body {{\n                Some(Body::{short}(b)) => Some(b.to_c()),\n                _ => None,\n            }};\n            let p = c.as_mut().map_or(null_mut(), |c| c as *mut _);\n            unsafe {{ {call} }}\n        }}"
            );
        }
        o.push_str("        _ => return false,\n    }\n    let _ = &mut info;\n    true\n}\n\n");
    }
    o
}
