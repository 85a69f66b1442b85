//! A parser for the four CTP headers. They are machine-formatted (one declaration per
//! line), so a line-oriented reader is enough and keeps the tool free of a C++ parser.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::CodegenError;

/// The C type behind a `TThostFtdc...Type` typedef.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CType {
    /// `char` (an enum code).
    Char,
    /// `char[N]` (N includes the terminating NUL).
    CharArray(usize),
    Int,
    Short,
    Double,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub typedef: String,
    pub ctype: CType,
    pub doc: String,
}

#[derive(Debug, Clone)]
pub struct Struct {
    /// Full C name, e.g. `CThostFtdcOrderField`.
    pub c_name: String,
    pub doc: String,
    pub fields: Vec<Field>,
}

impl Struct {
    /// The protocol name: `CThostFtdcOrderField` -> `Order`.
    pub fn short(&self) -> &str {
        short_name(&self.c_name)
    }
}

/// `CThostFtdcOrderField` -> `Order`.
pub fn short_name(c_name: &str) -> &str {
    c_name
        .strip_prefix("CThostFtdc")
        .and_then(|s| s.strip_suffix("Field"))
        .unwrap_or(c_name)
}

#[derive(Debug, Clone)]
pub struct Param {
    /// C type as written, e.g. `CThostFtdcOrderField*`, `int`, `char*[]`.
    pub ty: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Method {
    pub name: String,
    pub ret: String,
    pub params: Vec<Param>,
    pub doc: String,
}

impl Method {
    /// The CTP struct of the first parameter, if it is a struct pointer.
    pub fn struct_param(&self) -> Option<&str> {
        self.params
            .first()
            .and_then(|p| p.ty.strip_suffix('*'))
            .filter(|t| t.starts_with("CThostFtdc"))
    }
}

/// The virtual methods of one class in declaration (= vtable slot) order.
#[derive(Debug, Clone)]
pub struct Class {
    pub name: String,
    pub methods: Vec<Method>,
}

#[derive(Debug)]
pub struct Headers {
    pub structs: BTreeMap<String, Struct>,
    pub classes: BTreeMap<String, Class>,
}

impl Headers {
    pub fn load(dir: &Path) -> Result<Headers, CodegenError> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|source| CodegenError::Read {
                path: dir.join(name),
                source,
            })
        };
        const TYPES: &str = "ThostFtdcUserApiDataType.h";
        const STRUCTS: &str = "ThostFtdcUserApiStruct.h";
        let typedefs = parse_typedefs(TYPES, &read(TYPES)?)?;
        let structs = parse_structs(STRUCTS, &read(STRUCTS)?, &typedefs)?;
        let mut classes = BTreeMap::new();
        for file in ["ThostFtdcMdApi.h", "ThostFtdcTraderApi.h"] {
            for c in parse_classes(&read(file)?) {
                classes.insert(c.name.clone(), c);
            }
        }
        for needed in [
            "CThostFtdcMdSpi",
            "CThostFtdcMdApi",
            "CThostFtdcTraderSpi",
            "CThostFtdcTraderApi",
        ] {
            if !classes.contains_key(needed) {
                return Err(CodegenError::MissingClass(needed));
            }
        }
        Ok(Headers { structs, classes })
    }

    pub fn class(&self, name: &str) -> &Class {
        &self.classes[name]
    }
}

/// A [`CodegenError::Header`] about line `n` (0-based) of `file`.
fn bad_line(file: &'static str, n: usize, text: &str, problem: impl Into<String>) -> CodegenError {
    CodegenError::Header {
        file,
        line: n + 1,
        problem: problem.into(),
        text: text.trim().to_string(),
    }
}

fn parse_typedefs(file: &'static str, text: &str) -> Result<BTreeMap<String, CType>, CodegenError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix("typedef ") else {
            continue;
        };
        let bad = |problem: String| bad_line(file, n, line, problem);
        let rest = rest.trim_end_matches(';').trim();
        let (base, decl) = rest
            .split_once(' ')
            .ok_or_else(|| bad("a typedef without a name".into()))?;
        let (name, ctype) = match decl.split_once('[') {
            Some((name, len)) => {
                let n: usize = len
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| bad("an array length that is not a number".into()))?;
                if base != "char" {
                    return Err(bad(format!("an array of {base}, not of char")));
                }
                (name, CType::CharArray(n))
            }
            None => {
                let t = match base {
                    "char" => CType::Char,
                    "int" => CType::Int,
                    "short" => CType::Short,
                    "double" => CType::Double,
                    other => return Err(bad(format!("an unknown base type {other}"))),
                };
                (decl, t)
            }
        };
        out.insert(name.trim().to_string(), ctype);
    }
    Ok(out)
}

fn doc_line(line: &str) -> Option<&str> {
    line.trim().strip_prefix("///").map(str::trim)
}

fn parse_structs(
    file: &'static str,
    text: &str,
    typedefs: &BTreeMap<String, CType>,
) -> Result<BTreeMap<String, Struct>, CodegenError> {
    let mut out = BTreeMap::new();
    let mut doc = String::new();
    let mut current: Option<Struct> = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(d) = doc_line(t) {
            doc = d.to_string();
            continue;
        }
        if let Some(name) = t.strip_prefix("struct ").and_then(|r| r.strip_suffix(" {")) {
            current = Some(Struct {
                c_name: name.to_string(),
                doc: std::mem::take(&mut doc),
                fields: Vec::new(),
            });
            continue;
        }
        if t == "};" {
            if let Some(s) = current.take() {
                out.insert(s.c_name.clone(), s);
            }
            continue;
        }
        if let Some(s) = current.as_mut() {
            if t.is_empty() {
                continue;
            }
            let decl = t.trim_end_matches(';');
            let (ty, name) = decl.split_once(' ').ok_or_else(|| {
                bad_line(
                    file,
                    n,
                    line,
                    format!("a field of {} without a type", s.c_name),
                )
            })?;
            let ctype = *typedefs.get(ty).ok_or_else(|| {
                bad_line(
                    file,
                    n,
                    line,
                    format!("an unknown typedef {ty} in {}", s.c_name),
                )
            })?;
            s.fields.push(Field {
                name: name.trim().to_string(),
                typedef: ty.to_string(),
                ctype,
                doc: std::mem::take(&mut doc),
            });
        }
    }
    Ok(out)
}

fn parse_params(list: &str) -> Vec<Param> {
    let list = list.trim();
    if list.is_empty() || list == "void" {
        return Vec::new();
    }
    list.split(',')
        .map(|p| {
            // Drop default values and `const` qualifiers on value parameters.
            let p = p.split('=').next().unwrap_or(p).trim();
            let p = p.strip_prefix("const ").unwrap_or(p);
            let (ty, name) = p.rsplit_once(' ').unwrap_or((p, ""));
            let (ty, name) = match name.strip_suffix("[]") {
                Some(n) => (format!("{}[]", ty.trim()), n.to_string()),
                None => (ty.trim().to_string(), name.to_string()),
            };
            Param { ty, name }
        })
        .collect()
}

fn parse_classes(text: &str) -> Vec<Class> {
    let mut out = Vec::new();
    let mut current: Option<Class> = None;
    let mut doc = String::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(d) = doc_line(t) {
            if !d.is_empty() && !d.starts_with("@") {
                doc = d.to_string();
            }
            continue;
        }
        if let Some(rest) = t.strip_prefix("class ") {
            let name = rest
                .trim_end_matches('{')
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .to_string();
            current = Some(Class {
                name,
                methods: Vec::new(),
            });
            continue;
        }
        if t == "};" {
            if let Some(c) = current.take() {
                out.push(c);
            }
            continue;
        }
        let Some(c) = current.as_mut() else { continue };
        let Some(rest) = t.strip_prefix("virtual ") else {
            continue;
        };
        let (head, tail) = match rest.split_once('(') {
            Some(x) => x,
            None => continue,
        };
        let params = tail.rsplit_once(')').map(|x| x.0).unwrap_or("");
        let (ret, name) = head.rsplit_once(' ').unwrap_or(("void", head));
        c.methods.push(Method {
            name: name.trim().to_string(),
            ret: ret.trim().to_string(),
            params: parse_params(params),
            doc: std::mem::take(&mut doc),
        });
    }
    out
}
