//! The encoded-query parser: precedence of `^`, `^OR` and `^NQ`, every
//! operator, every dynamic value, escapes, and every error with its byte
//! position.

use sqlgate_acl::encoded_query::{
    Condition, Dynamic, Literal, Op, Operand, ParseError, ParseErrorKind as K, parse,
};

/// The field names of the query, nested as groups / terms / conditions.
fn shape(q: &str) -> Vec<Vec<Vec<String>>> {
    parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|t| t.iter().map(|c| c.field.clone()).collect())
                .collect()
        })
        .collect()
}

fn only(q: &str) -> Condition {
    let parsed = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    assert_eq!(parsed.conditions().count(), 1, "{q}");
    parsed.conditions().next().unwrap().clone()
}

fn lit(text: &str, position: usize) -> Literal {
    Literal {
        text: text.into(),
        position,
    }
}

fn fails(q: &str) -> ParseError {
    parse(q).expect_err(q)
}

#[test]
fn the_empty_string_is_the_query_that_matches_everything() {
    let q = parse("").unwrap();
    assert!(q.is_empty());
    assert_eq!(q.conditions().count(), 0);
}

#[test]
fn caret_is_and_and_caret_or_binds_to_the_previous_term() {
    assert_eq!(shape("a=1"), [[["a"]]]);
    assert_eq!(shape("a=1^b=2"), [[vec!["a"], vec!["b"]]]);
    assert_eq!(shape("a=1^b=2^ORc=3"), [[vec!["a"], vec!["b", "c"]]]);
    assert_eq!(shape("a=1^ORb=2^c=3"), [[vec!["a", "b"], vec!["c"]]]);
    assert_eq!(shape("a=1^ORb=2^ORc=3"), [[["a", "b", "c"]]]);
}

#[test]
fn caret_nq_starts_a_new_top_level_group() {
    assert_eq!(
        shape("a=1^NQb=2^ORc=3^d=4"),
        vec![vec![vec!["a"]], vec![vec!["b", "c"], vec!["d"]],]
    );
    assert_eq!(
        shape("a=1^ORb=2^NQc=3^NQd=4^e=5"),
        vec![
            vec![vec!["a", "b"]],
            vec![vec!["c"]],
            vec![vec!["d"], vec!["e"]],
        ]
    );
}

#[test]
fn positions_point_at_each_condition() {
    let q = parse("a=1^ORbb=2^NQc=3^d=4").unwrap();
    let positions: Vec<_> = q.conditions().map(|c| c.position).collect();
    assert_eq!(positions, [0, 6, 13, 17]);
}

#[test]
fn every_operator_parses_with_the_longest_spelling() {
    let cases = [
        ("state=1", Op::Eq, Operand::Literal(lit("1", 6))),
        ("state!=1", Op::Ne, Operand::Literal(lit("1", 7))),
        ("state<1", Op::Lt, Operand::Literal(lit("1", 6))),
        ("state<=1", Op::Le, Operand::Literal(lit("1", 7))),
        ("state>1", Op::Gt, Operand::Literal(lit("1", 6))),
        ("state>=1", Op::Ge, Operand::Literal(lit("1", 7))),
        (
            "stateIN1,22,",
            Op::In,
            Operand::List(vec![lit("1", 7), lit("22", 9), lit("", 12)]),
        ),
        (
            "stateNOT IN1,2",
            Op::NotIn,
            Operand::List(vec![lit("1", 11), lit("2", 13)]),
        ),
        ("nameLIKEvpn", Op::Like, Operand::Literal(lit("vpn", 8))),
        (
            "nameNOT LIKEvpn",
            Op::NotLike,
            Operand::Literal(lit("vpn", 12)),
        ),
        (
            "nameSTARTSWITHv",
            Op::StartsWith,
            Operand::Literal(lit("v", 14)),
        ),
        (
            "nameENDSWITHn",
            Op::EndsWith,
            Operand::Literal(lit("n", 12)),
        ),
        ("nameISEMPTY", Op::IsEmpty, Operand::None),
        ("nameISNOTEMPTY", Op::IsNotEmpty, Operand::None),
        (
            "stateBETWEEN1@3",
            Op::Between,
            Operand::Range(lit("1", 12), lit("3", 14)),
        ),
        (
            "opened_bySAMEAScaller_id",
            Op::SameAs,
            Operand::Field {
                name: "caller_id".into(),
                position: 15,
            },
        ),
        (
            "opened_byNSAMEAScaller_id",
            Op::NSameAs,
            Operand::Field {
                name: "caller_id".into(),
                position: 16,
            },
        ),
    ];
    for (text, op, operand) in cases {
        let c = only(text);
        assert_eq!((c.op, &c.operand), (op, &operand), "{text}");
        assert_eq!(c.op.to_string(), c.op.spelling());
    }
}

#[test]
fn values_keep_their_text_and_case() {
    // Everything after the operator is the value, spaces, `=` and
    // metacharacters included.
    let c = only("short_description=a b=c %_\\ ");
    assert_eq!(c.operand, Operand::Literal(lit("a b=c %_\\ ", 18)));
    let c = only("name=ISEMPTY");
    assert_eq!(
        (c.op, c.operand),
        (Op::Eq, Operand::Literal(lit("ISEMPTY", 5)))
    );
    let c = only("nameLIKEIN");
    assert_eq!(
        (c.op, c.operand),
        (Op::Like, Operand::Literal(lit("IN", 8)))
    );
    let c = only("_x9=");
    assert_eq!(
        (c.field.as_str(), c.operand),
        ("_x9", Operand::Literal(lit("", 4)))
    );
}

#[test]
fn a_doubled_caret_is_a_literal_caret() {
    assert_eq!(
        only("short_description=a^^b=c").operand,
        Operand::Literal(lit("a^b=c", 18))
    );
    assert_eq!(
        only("active=true^^").operand,
        Operand::Literal(lit("true^", 7))
    );
    let q = parse("a=x^^^b=1").unwrap();
    assert_eq!(q.groups[0].len(), 2);
    assert_eq!(q.groups[0][0][0].operand, Operand::Literal(lit("x^", 2)));
    assert_eq!(q.groups[0][1][0].position, 6);
    // Positions after an escape still count bytes of the input.
    assert_eq!(
        only("aIN^^,b").operand,
        Operand::List(vec![lit("^", 3), lit("b", 6)])
    );
}

#[test]
fn dynamic_values() {
    let dynamic = |q: &str| match only(q).operand {
        Operand::Dynamic { value, position } => (value, position),
        other => panic!("{q}: {other:?}"),
    };
    assert_eq!(
        dynamic("assigned_to=javascript:gs.getUserID()"),
        (Dynamic::UserId, 12)
    );
    assert_eq!(
        dynamic("assigned_to!=javascript:gs.getUserID()"),
        (Dynamic::UserId, 13)
    );
    assert_eq!(
        dynamic("assigned_toLIKEjavascript:gs.getUserID()").0,
        Dynamic::UserId
    );
    for q in [
        "assignment_group=javascript:gs.getUser().getMyGroups()",
        "assignment_group!=javascript:gs.getUser().getMyGroups()",
        "assignment_groupINjavascript:gs.getUser().getMyGroups()",
        "assignment_groupNOT INjavascript:gs.getUser().getMyGroups()",
    ] {
        assert_eq!(dynamic(q).0, Dynamic::MyGroups, "{q}");
    }
    assert_eq!(
        dynamic("active=javascript:gs.hasRole('itil')").0,
        Dynamic::HasRole("itil".into())
    );
    assert_eq!(
        dynamic("active=javascript:gs.hasRole(\"sn_incident.read\")").0,
        Dynamic::HasRole("sn_incident.read".into())
    );
    assert_eq!(
        Dynamic::HasRole("x".into()).to_string(),
        "javascript:gs.hasRole('x')"
    );
}

#[test]
fn unknown_or_misplaced_dynamic_values_are_refused() {
    for (q, position, kind) in [
        (
            "a=javascript:gs.getUser().getName()",
            2,
            K::UnsupportedDynamic,
        ),
        ("a=javascript:gs.getUserID() ", 2, K::UnsupportedDynamic),
        ("a=javascript: gs.getUserID()", 2, K::UnsupportedDynamic),
        ("a=javascript:gs.getUserId()", 2, K::UnsupportedDynamic),
        ("a=JavaScript:gs.getUserID()", 2, K::UnsupportedDynamic),
        ("a!=JAVASCRIPT:anything", 3, K::UnsupportedDynamic),
        ("a=javascript:gs.hasRole()", 2, K::UnsupportedDynamic),
        ("a=javascript:gs.hasRole('')", 2, K::UnsupportedDynamic),
        ("a=javascript:gs.hasRole('x\")", 2, K::UnsupportedDynamic),
        ("a=javascript:gs.hasRole(x)", 2, K::UnsupportedDynamic),
        ("a=javascript:gs.hasRole('a b')", 2, K::UnsupportedDynamic),
        (
            "aINx,javascript:gs.getUserID()",
            5,
            K::DynamicInsideValue(Op::In),
        ),
        (
            "aBETWEEN1@javascript:gs.getUserID()",
            10,
            K::DynamicInsideValue(Op::Between),
        ),
        (
            "a<javascript:gs.getUser().getMyGroups()",
            2,
            K::DynamicNotAllowed {
                op: Op::Lt,
                dynamic: Dynamic::MyGroups,
            },
        ),
        (
            "aLIKEjavascript:gs.getUser().getMyGroups()",
            5,
            K::DynamicNotAllowed {
                op: Op::Like,
                dynamic: Dynamic::MyGroups,
            },
        ),
        (
            "aSAMEASjavascript:gs.getUserID()",
            7,
            K::DynamicNotAllowed {
                op: Op::SameAs,
                dynamic: Dynamic::UserId,
            },
        ),
        (
            "aISEMPTYjavascript:gs.getUserID()",
            8,
            K::DynamicNotAllowed {
                op: Op::IsEmpty,
                dynamic: Dynamic::UserId,
            },
        ),
    ] {
        assert_eq!(fails(q), ParseError { position, kind }, "{q}");
    }
}

#[test]
fn malformed_conditions_are_refused_with_their_position() {
    for (q, position, kind) in [
        ("active=true^", 12, K::EmptyCondition),
        ("^active=true", 0, K::EmptyCondition),
        ("a=1^^^OR", 8, K::EmptyCondition),
        ("a=1^OR", 6, K::EmptyCondition),
        ("a=1^NQ", 6, K::EmptyCondition),
        ("a=1^^^", 6, K::EmptyCondition),
        ("Active=true", 0, K::ExpectedField),
        ("1a=true", 0, K::ExpectedField),
        ("=true", 0, K::ExpectedField),
        ("a=1^ORDERBYnumber", 4, K::Keyword("ORDERBY")),
        ("a=1^ORDERBYDESCnumber", 4, K::Keyword("ORDERBYDESC")),
        ("a=1^GROUPBYstate", 4, K::Keyword("GROUPBY")),
        ("a=1^EQ", 4, K::Keyword("EQ")),
        (
            "caller_id.department=x",
            9,
            K::DotWalking("caller_id".into()),
        ),
        (
            "active=true^state~3",
            17,
            K::UnknownOperator("state".into()),
        ),
        ("state", 5, K::UnknownOperator("state".into())),
        ("nameISEMPTYx", 11, K::UnexpectedValue(Op::IsEmpty)),
        ("nameISNOTEMPTY ", 14, K::UnexpectedValue(Op::IsNotEmpty)),
        ("stateBETWEEN1", 12, K::BetweenNeedsOneAt),
        ("stateBETWEEN1@2@3", 12, K::BetweenNeedsOneAt),
        ("aSAMEASNot a field", 7, K::ExpectedOtherField(Op::SameAs)),
        ("aNSAMEAS", 8, K::ExpectedOtherField(Op::NSameAs)),
        ("aSAMEASb.c", 8, K::DotWalking("b".into())),
    ] {
        let e = fails(q);
        assert_eq!(e, ParseError { position, kind }, "{q}: {e}");
    }
    // `=` and then the value `=1`: a literal, not an error.
    assert_eq!(only("state==1").operand, Operand::Literal(lit("=1", 6)));
}

#[test]
fn platform_operators_sqlgate_does_not_implement_are_refused_by_name() {
    // INSTANCEOF must not be read as IN with the value "STANCEOFtask".
    for (q, op) in [
        ("sys_class_nameINSTANCEOFtask", "INSTANCEOF"),
        ("nameANYTHING", "ANYTHING"),
        ("nameEMPTYSTRING", "EMPTYSTRING"),
        ("opened_atONToday@javascript:gs.beginningOfToday()", "ON"),
        ("opened_atNOTONToday", "NOTON"),
        ("opened_atRELATIVEGT@hour@ago@3", "RELATIVEGT"),
        ("opened_atDATEPARTMonday", "DATEPART"),
        ("nameNOTLIKEx", "NOTLIKE"),
        ("stateVALCHANGES", "VALCHANGES"),
        ("aGT_FIELDb", "GT_FIELD"),
        ("aDYNAMICabc", "DYNAMIC"),
    ] {
        let e = fails(q);
        let at = q.find(op).unwrap();
        let kind = K::UnsupportedOperator(op);
        assert_eq!(e, ParseError { position: at, kind }, "{q}");
    }
}

#[test]
fn error_messages_name_position_and_problem() {
    assert_eq!(
        fails("active=true^state~3").to_string(),
        "position 17: unknown operator after field \"state\""
    );
    assert!(
        fails("caller_id.department=x")
            .to_string()
            .starts_with("position 9: dot-walking (\"caller_id.…\") is not supported")
    );
    assert!(
        fails("a=javascript:x")
            .to_string()
            .contains("javascript:gs.getUserID()")
    );
}

#[test]
fn text_that_is_not_ascii_keeps_byte_positions() {
    let q = parse("name=é^ORb~x").unwrap_err();
    // "name=é" is 7 bytes, "^OR" 3 more, then "b" and the operator.
    assert_eq!(q.position, 11);
    assert_eq!(only("nameLIKEü,é").operand, Operand::Literal(lit("ü,é", 8)));
}
