//! `;name=value` parameter lists: `generic-param` of header values and `uri-parameter` of SIP
//! URIs (RFC 3261 §25.1, §19.1.1).

use std::fmt;

use super::lex::{is_token, is_wsp, Cursor};

/// One parameter; names compare case-insensitively, values are kept as received (a quoted
/// value keeps its quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The parameter name.
    pub name: String,
    /// The value after `=`, if any.
    pub value: Option<String>,
}

impl Param {
    /// A parameter with a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Param {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// A parameter without a value (`;lr`).
    pub fn flag(name: impl Into<String>) -> Self {
        Param {
            name: name.into(),
            value: None,
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

/// An ordered parameter list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// An empty list.
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// The parameter called `name` (case-insensitive), if present.
    pub fn find(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// True when a parameter called `name` is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The value of `name`, if present with a value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).and_then(|p| p.value.as_deref())
    }

    /// Replaces `name`'s value, or appends the parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(p) => p.value = value,
            None => self.0.push(Param {
                name: name.to_owned(),
                value,
            }),
        }
    }

    /// Removes every parameter called `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

/// Characters of a `gen-value` that is not quoted: a token, or a host (IPv6 references
/// bring `[`, `]` and `:`).
fn is_gen_value(b: u8) -> bool {
    is_token(b) || matches!(b, b':' | b'[' | b']')
}

/// Parses `*( SEMI generic-param )` from the cursor, allowing linear white space around
/// `;` and `=` as the grammar does. Stops at the first byte that cannot continue the list
/// and leaves it unconsumed; `Err` carries the reason for a malformed parameter.
pub(crate) fn parse_generic(c: &mut Cursor<'_>) -> Result<Params, &'static str> {
    let mut params = Params::new();
    while c.eat_sep(b';') {
        let name = c.token();
        if name.is_empty() {
            return Err("empty parameter name");
        }
        let value = if c.eat_sep(b'=') {
            let v = if c.peek() == Some(b'"') {
                c.quoted().ok_or("unterminated quoted parameter value")?
            } else {
                c.take_while(is_gen_value)
            };
            if v.is_empty() {
                return Err("empty parameter value");
            }
            Some(v.to_owned())
        } else {
            None
        };
        params.0.push(Param {
            name: name.to_owned(),
            value,
        });
    }
    Ok(params)
}

/// Parses a whole string as `*( SEMI generic-param )`, requiring nothing else after it
/// except white space.
pub(crate) fn parse_generic_all(s: &str) -> Result<Params, &'static str> {
    let mut c = Cursor::new(s);
    let p = parse_generic(&mut c)?;
    c.skip_wsp();
    if c.at_end() {
        Ok(p)
    } else if c.peek().is_some_and(is_wsp) {
        Err("white space inside a parameter")
    } else {
        Err("unexpected character after parameters")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_params_allow_lws_and_quotes() {
        let p = parse_generic_all(" ;   tag    = 1918181833n").unwrap();
        assert_eq!(p.get("TAG"), Some("1918181833n"));
        let p = parse_generic_all(" ; newparam =  newvalue ;  secondparam ; q = 0.33").unwrap();
        assert_eq!(p.get("newparam"), Some("newvalue"));
        assert!(p.contains("secondparam"));
        assert_eq!(p.get("q"), Some("0.33"));
        let p = parse_generic_all(";x=\"a;b\";received=[2001:db8::1]").unwrap();
        assert_eq!(p.get("x"), Some("\"a;b\""));
        assert_eq!(p.get("received"), Some("[2001:db8::1]"));
    }

    #[test]
    fn generic_params_reject_empty_names() {
        assert!(parse_generic_all(";;").is_err());
        assert!(parse_generic_all(";a=").is_err());
        assert!(parse_generic_all(";a b").is_err());
    }
}
