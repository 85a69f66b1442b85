//! Every command's name, usage and description; aliases; the closest command to a typo.

/// Name, usage and one-line description of every command.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "login",
        "login [user]",
        "log in to the trading front (password from WEBCTP_PASSWORD, config, or a prompt)",
    ),
    ("logout", "logout", "log out of the trading front"),
    ("sub", "sub <instrument>...", "subscribe to market data"),
    (
        "unsub",
        "unsub <instrument>...",
        "unsubscribe from market data",
    ),
    ("quote", "quote <instrument>", "show the latest quote"),
    (
        "depth",
        "depth <instrument>",
        "five levels of the book, updated live until q or Ctrl-C (a snapshot in exec)",
    ),
    (
        "watch",
        "watch [instrument...]",
        "print ticks as they arrive (all subscribed if none given)",
    ),
    ("unwatch", "unwatch", "stop printing ticks"),
    (
        "buy",
        "buy <instrument> <volume> [@price|market] [open|close|closetoday|closeyesterday] [fak|fok]",
        "insert a buy order (default: open, limit at the best ask)",
    ),
    (
        "sell",
        "sell <instrument> <volume> [@price|market] [open|close|closetoday|closeyesterday] [fak|fok]",
        "insert a sell order (default: open, limit at the best bid)",
    ),
    (
        "close",
        "close <instrument> [long|short] [volume] [@price|market]",
        "close a position (CloseToday/CloseYesterday split on SHFE and INE)",
    ),
    (
        "flatten",
        "flatten [instrument|all]",
        "close every position (of one instrument) at the opposite best price",
    ),
    (
        "cancel",
        "cancel <OrderSysID|OrderRef>|all [instrument]",
        "cancel an order (an OrderRef names this session's orders only), or all open ones",
    ),
    (
        "orders",
        "orders [open]",
        "list today's orders (only working ones with `open`)",
    ),
    ("trades", "trades", "list today's trades"),
    ("positions", "positions", "list positions"),
    ("account", "account", "show the trading account's funds"),
    (
        "instrument",
        "instrument <id|prefix>",
        "show instruments whose ID starts with the text",
    ),
    ("margin", "margin <instrument>", "show the margin rate"),
    (
        "commission",
        "commission <instrument>",
        "show the commission rate",
    ),
    ("confirm", "confirm", "confirm the settlement statement"),
    (
        "settlement",
        "settlement",
        "show the last settlement statement",
    ),
    (
        "passwd",
        "passwd",
        "change the password (prompts for the old and new one)",
    ),
    (
        "raw",
        "raw [md|td] <json>",
        "send a protocol message and print every answer",
    ),
    (
        "set",
        "set output json|table",
        "print protocol JSON or tables",
    ),
    (
        "settle",
        "settle",
        "sim only: end the trading day now (positions settle and move to yesterday)",
    ),
    (
        "drop-front",
        "drop-front <seconds>",
        "sim only: take the front down for a while",
    ),
    (
        "status",
        "status",
        "the backend, its fronts (address, up or down), the login and subscriptions",
    ),
    (
        "help",
        "help [command]",
        "list commands, or show one command's usage",
    ),
    ("exit", "exit", "leave (also quit, Ctrl-D)"),
];

/// Short and alternative names of commands.
pub const ALIASES: &[(&str, &str)] = &[
    ("b", "buy"),
    ("s", "sell"),
    ("c", "cancel"),
    ("q", "quote"),
    ("book", "depth"),
    ("pos", "positions"),
    ("acc", "account"),
    ("funds", "account"),
    ("subscribe", "sub"),
    ("unsubscribe", "unsub"),
    ("inst", "instrument"),
    ("instruments", "instrument"),
    ("password", "passwd"),
    ("quit", "exit"),
    ("?", "help"),
];

/// The command a word names (itself, or what it is short for).
pub fn canonical(word: &str) -> &str {
    ALIASES.iter().find(|a| a.0 == word).map_or(word, |a| a.1)
}

/// The aliases of a command.
pub fn aliases_of(name: &str) -> Vec<&'static str> {
    ALIASES
        .iter()
        .filter(|a| a.1 == name)
        .map(|a| a.0)
        .collect()
}

/// The usage line of a command.
pub fn usage(name: &str) -> Option<&'static str> {
    COMMANDS.iter().find(|c| c.0 == name).map(|c| c.1)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known command closest to a typo, if any is close.
pub fn closest(word: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|c| (edit_distance(word, c.0), c.0))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3) || name.starts_with(word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}
