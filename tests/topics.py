"""Every topic of the district's help page, how a parent reaches it, and the facts it must state.

The facts are copied from shared/seeds/parent-portal-help.txt, not from the help line's own
output, so a wrong or missing fact fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    asks: str  # how a parent might put it (not from the dev utterance set)
    keys: tuple[str, ...]  # keypad path from the main menu
    spoken: tuple[str, ...]  # facts a caller must hear
    texted: tuple[str, ...]  # facts a texter must read
    # facts a caller hears on asking for more ("more", or 8): a long answer's details, or an
    # address a caller who can be texted is offered by text first
    more: tuple[str, ...] = ()


TOPICS = [
    Topic(
        "activation_key",
        "how can I get a parent portal activation key",
        ("1",),
        ("can't be given over the phone", "Activation Key Lookup", "photo ID"),
        ("can't be given by phone", "http://tinyAPS.com/?lookup", "school", "valid photo ID"),
    ),
    Topic(
        "key_already_used",
        "the system says my activation key was used already",
        ("5", "5"),
        ("only once", "can't be used again"),
        ("only once", "can't be used again"),
    ),
    Topic(
        "registration_requirements",
        "what should I have ready before registering",
        ("2", "1"),
        ("student number", "report card or transcript", "Social Security number", "SSN-like"),
        ("Student Number", "report card or transcript", "SSN", "SSN-like number"),
    ),
    Topic(
        "student_number",
        "where would I see my kid's student number",
        ("4", "1"),
        ("report card or transcript",),
        ("report card or transcript",),
    ),
    Topic(
        "ssn_like_number",
        "what does SSN-like number mean",
        ("4", "2"),
        ("did not give", "main office", "valid photo ID", "last four digits"),
        ("did not give", "main office", "valid photo ID", "last 4 digits"),
    ),
    Topic(
        "create_account",
        "how do I make a new parent portal account",
        ("2", "2"),
        ("New User", "login page", "activation key"),
        ("ic.apsk12.org/campus/portal/atlanta.jsp", "New User", "Activation Key", "Submit"),
        ("Submit", "Create Account"),
    ),
    Topic(
        "username_rules",
        "what kind of username can I pick",
        ("2", "3"),
        ("alphanumeric", "letters and numbers"),
        ("alphanumeric", "letters and numbers"),
    ),
    Topic(
        "password_rules",
        "what are the rules for the password",
        ("2", "4"),
        ("alphanumeric", "6 characters", "Verify Password", "strong password"),
        ("alphanumeric", "6 characters", "3 of these 4", "symbol", "Verify Password"),
        ("three of these four", "lower case", "upper case", "number", "symbol"),
    ),
    Topic(
        "forgot_password",
        "I can't remember my password",
        ("3", "2"),
        ("Forgot Your Password", "email", "address on record", "press 0 for support"),
        ("Forgot Your Password", "address on record", "404-802-1000"),
    ),
    Topic(
        "forgot_username",
        "I forgot my user name",
        ("3", "1"),
        ("Forgot Your Username", "address on record", "5 times a day", "sixth", "next day"),
        ("Forgot Your Username", "address on record", "5 requests a day", "next day"),
    ),
    Topic(
        "locked_out",
        "my account got locked",
        ("3", "3"),
        ("locked until the next day", "4 0 4, 8 0 2, 1 0 0 0"),
        ("until the next day", "404-802-1000"),
    ),
    Topic(
        "portal_login",
        "what is the web address for the parent portal login",
        ("5", "2"),
        ("login page", "by text"),
        ("ic.apsk12.org/campus/portal/atlanta.jsp",),
        ("i c dot a p s k 12 dot org, slash campus, slash portal, slash atlanta dot j s p",),
    ),
    Topic(
        "portal_features",
        "what information is in the parent portal",
        ("5", "1"),
        ("class schedules", "attendance", "grades", "email", "home address", "phone numbers"),
        ("class schedules", "attendance", "grades", "email", "home address", "phone numbers"),
    ),
    Topic(
        "update_household_info",
        "I need to update our home address",
        ("5", "3"),
        ("verify", "household information", "email", "home address", "phone numbers"),
        ("verify household information", "email", "home address", "phone numbers"),
    ),
    Topic(
        "state_test_scores",
        "how do I see my child's state test results",
        ("5", "4"),
        ("State Longitudinal Data System", "state test scores", "Infinite Campus"),
        ("SLDS Parent Portal", "state test scores", "Infinite Campus"),
    ),
]

SSN_LAST4 = Topic(
    "ssn_last4",
    "can you tell me the last four numbers of my son's social",
    ("4", "3"),
    ("last four digits", "once I confirm who you are", "student number"),
    ("last 4 digits", "after I confirm who you are", "student number"),
)
