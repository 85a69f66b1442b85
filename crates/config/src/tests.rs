//! Unit tests of parsing and merging.

use crate::*;

#[test]
fn seed_keys_parse() {
    let f = FileConfig::parse(
        "TdFrontAddress: tcp://182.254.243.31:40001\nMdFrontAddress: tcp://182.254.243.31:40011\nBrokerID: \"9999\"\nAuthCode: \"0000000000000000\"\nAppID: simnow_client_test\nPort: 8081\nHost: 0.0.0.0\nLogLevel: INFO\n",
    )
    .unwrap();
    let c = Config::resolve(f, None, Overrides::default()).unwrap();
    assert_eq!(c.backend, BackendKind::Native);
    assert_eq!(c.port, 8081);
    assert_eq!(c.broker_id, "9999");
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let err = FileConfig::parse("Port: 8080\nBrokerId: \"9999\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("BrokerId"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn wrong_type_is_named() {
    let err = FileConfig::parse("Port: eighty\n").unwrap_err().to_string();
    assert!(err.contains("Port"), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn empty_file_is_the_sim() {
    let c = Config::resolve(FileConfig::parse("").unwrap(), None, Overrides::default()).unwrap();
    assert_eq!(c.backend, BackendKind::Sim);
    assert_eq!(c.port, 8080);
    assert_eq!(c.sim.tick_rate, 2.0);
    assert_eq!(c.front_wait, std::time::Duration::from_secs(3));
}

#[test]
fn front_wait_is_read_in_seconds() {
    let f = FileConfig::parse("FrontWait: 1.5\n").unwrap();
    let c = Config::resolve(f, None, Overrides::default()).unwrap();
    assert_eq!(c.front_wait, std::time::Duration::from_millis(1500));
}

#[test]
fn overrides_win() {
    let f = FileConfig::parse("Port: 9000\nHost: 0.0.0.0\n").unwrap();
    let o = Overrides {
        port: Some(9100),
        ..Default::default()
    };
    let c = Config::resolve(f, None, o).unwrap();
    assert_eq!(c.port, 9100);
    assert_eq!(c.host, "0.0.0.0");
}

#[test]
fn shipped_configs_parse() {
    for (name, text) in [
        ("sim.yaml", include_str!("../../../config/sim.yaml")),
        (
            "simnow-7x24.yaml",
            include_str!("../../../config/simnow-7x24.yaml"),
        ),
        (
            "simnow-standard.yaml",
            include_str!("../../../config/simnow-standard.yaml"),
        ),
    ] {
        let f = FileConfig::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        Config::resolve(f, None, Overrides::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn sim_start_date_and_sessions() {
    let f = FileConfig::parse("Sim: {StartDate: 2025-12-03, Sessions: exchange}\n").unwrap();
    let c = Config::resolve(f, None, Overrides::default()).unwrap();
    assert_eq!(
        c.sim
            .start
            .map(|s| webctp_protocol::clock::date_string(s.day)),
        Some("20251203".into())
    );
    assert_eq!(c.sim.sessions, SessionsMode::Exchange);
    assert_eq!(Config::sim_default().sim.sessions, SessionsMode::Always);
    let e = FileConfig::parse("Sim: {StartDate: soon}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("Sim.StartDate") && e.contains("soon"), "{e}");
    let o = Overrides {
        sim_start_date: Some("soon".into()),
        ..Default::default()
    };
    let e = Config::resolve(FileConfig::default(), None, o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--start-date") && e.contains("soon"), "{e}");
    let f = FileConfig::parse("Sim: {Sessions: weekdays}\n")
        .unwrap_err()
        .to_string();
    assert!(f.contains("weekdays"), "{f}");
    // The flag (or WEBCTP_SIM_START_DATE) wins over the file.
    let f = FileConfig::parse("Sim: {StartDate: 2025-12-03}\n").unwrap();
    let o = Overrides {
        sim_start_date: Some("2026-12-25".into()),
        ..Default::default()
    };
    let c = Config::resolve(f, None, o).unwrap();
    assert_eq!(
        c.sim
            .start
            .map(|s| webctp_protocol::clock::date_string(s.day)),
        Some("20261225".into())
    );
}

#[test]
fn debug_hides_secrets() {
    let o = Overrides {
        password: Some("hunter2".into()),
        token: Some("s3cret".into()),
        ..Default::default()
    };
    let c = Config::resolve(FileConfig::default(), None, o).unwrap();
    let s = format!("{c:?}");
    assert!(!s.contains("hunter2") && !s.contains("s3cret"), "{s}");
}

#[test]
fn log_level_outside_its_list_names_key_line_and_the_allowed_words() {
    let err = FileConfig::parse("Port: 8080\nLogLevel: LOUD\n")
        .unwrap_err()
        .to_string();
    for needle in [
        "LogLevel",
        "LOUD",
        "line 2",
        "error, warn, info, debug, trace",
    ] {
        assert!(err.contains(needle), "{needle} missing: {err}");
    }
    let err = FileConfig::load(std::path::Path::new("/nonexistent/webctp.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    // Python's names and any case are levels.
    for (text, level) in [
        ("INFO", LogLevel::Info),
        ("WARNING", LogLevel::Warn),
        ("critical", LogLevel::Error),
        ("NotSet", LogLevel::Trace),
        ("off", LogLevel::Off),
    ] {
        let f = FileConfig::parse(&format!("LogLevel: {text}\n")).unwrap();
        let c = Config::resolve(f, None, Overrides::default()).unwrap();
        assert_eq!(c.log_level, level, "{text}");
    }
    // The flag is checked as well, and named.
    let o = Overrides {
        log_level: Some("loud".into()),
        ..Default::default()
    };
    let err = Config::resolve(FileConfig::default(), None, o)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--log-level") && err.contains("loud") && err.contains("debug"),
        "{err}"
    );
    assert_eq!(Config::sim_default().log_level, LogLevel::Info);
}

#[test]
fn every_word_outside_its_list_names_key_line_and_the_allowed_words() {
    for (yaml, key, line, allowed) in [
        (
            "Backend: simulated\n",
            "Backend",
            1,
            ["sim", "native"].as_slice(),
        ),
        (
            "Port: 1\nResumeType: quick\n",
            "ResumeType",
            2,
            &["Restart", "Resume", "Quick"],
        ),
        (
            "Sim:\n  Durability: always\n",
            "Sim.Durability",
            2,
            &["fsync", "os"],
        ),
        (
            "Sim:\n  ClosedJournals: keep\n",
            "Sim.ClosedJournals",
            2,
            &["archive", "delete"],
        ),
        (
            "Sim: {Sessions: weekdays}\n",
            "Sim.Sessions",
            1,
            &["always", "exchange"],
        ),
    ] {
        let err = FileConfig::parse(yaml).unwrap_err().to_string();
        assert!(err.contains(key), "{key} missing: {err}");
        assert!(err.contains(&format!("line {line}")), "line missing: {err}");
        for word in allowed {
            assert!(err.contains(word), "{word} missing: {err}");
        }
    }
}

#[test]
fn numbers_out_of_range_name_key_and_line() {
    for (yaml, key, line) in [
        ("Sim:\n  TickRate: -1\n", "Sim.TickRate", 2),
        ("Sim: {InitialFunds: -5}\n", "Sim.InitialFunds", 1),
        ("Port: 1\nHeartbeatInterval: 0\n", "HeartbeatInterval", 2),
        ("HeartbeatTimeout: -3\n", "HeartbeatTimeout", 1),
        ("Port: 1\nFrontWait: 0\n", "FrontWait", 2),
        ("FrontWait: 16\n", "FrontWait", 1),
        ("Limits:\n  TdQueueBytes: 10\n", "Limits.TdQueueBytes", 2),
        ("Limits:\n  MaxFrameBytes: 10\n", "Limits.MaxFrameBytes", 2),
        (
            "Limits:\n  HandshakeTimeout: 0\n",
            "Limits.HandshakeTimeout",
            2,
        ),
        ("Sim:\n  StartDate: soon\n", "Sim.StartDate", 2),
        (
            "Sim:\n  FrontOutage: {After: 1, For: .inf}\n",
            "Sim.FrontOutage.For",
            2,
        ),
    ] {
        let err = FileConfig::parse(yaml).unwrap_err().to_string();
        assert!(err.contains(key), "{key} missing: {err}");
        assert!(err.contains(&format!("line {line}")), "line missing: {err}");
    }
    // A flag out of range is named as the flag.
    let o = Overrides {
        tick_rate: Some(-1.0),
        ..Default::default()
    };
    let err = Config::resolve(FileConfig::default(), None, o)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--tick-rate"), "{err}");
}

#[test]
fn a_tab_indent_is_named_with_its_line() {
    for (yaml, line) in [
        ("\tPort: 8080\n", 1),
        ("Sim:\n\tTickRate: 1\n", 2),
        ("Port: 8080\nSim:\n    TickRate: 1\n\tSeed: 3\n", 4),
        (
            "# webctp\nSim:\n  Accounts:\n\t- {UserID: a, Password: b}\n",
            4,
        ),
    ] {
        let err = FileConfig::parse(yaml).unwrap_err().to_string();
        assert!(
            err.contains(&format!("line {line}")) && err.contains("tab"),
            "{yaml:?}: {err}"
        );
    }
    // A tab after the indentation, inside a value, is not an indent.
    FileConfig::parse("Port: 8080\nHost:\t127.0.0.1\n").unwrap();
}

#[test]
fn a_port_from_the_command_line_serves_both_endpoints() {
    let yaml = "Port: 8080\nMdPort: 8080\nTdPort: 8081\n";
    let c = Config::resolve(FileConfig::parse(yaml).unwrap(), None, Overrides::default()).unwrap();
    assert_eq!((c.md_port, c.td_port), (Some(8080), Some(8081)));
    let o = Overrides {
        port: Some(9000),
        ..Default::default()
    };
    let c = Config::resolve(FileConfig::parse(yaml).unwrap(), None, o).unwrap();
    assert_eq!((c.port, c.md_port, c.td_port), (9000, None, None));
}
