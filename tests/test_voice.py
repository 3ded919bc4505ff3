"""Phone calls, as conversations: the parent says or presses something, the help line answers."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from tests.helpers import SUPPORT, Call, Reply
from tests.topics import SSN_LAST4, TOPICS, Topic
from voicebot.channels import voice
from voicebot.services import services


def gather_of(reply) -> ElementTree.Element:  # type: ignore[no-untyped-def]
    gather = ElementTree.fromstring(reply.xml).find("Gather")
    assert gather is not None, reply.xml
    return gather


def test_a_call_is_greeted_with_a_short_spoken_menu(call: Call) -> None:
    reply = call.start()
    assert reply.status == 200
    assert "Parent Portal help line" in reply.text
    assert "say what you need" in reply.text and "press 0 for a person" in reply.text
    assert "press 1" not in reply.text.lower(), "the keys are read out when asked for"
    options = call.silence()
    for option in ("activation keys", "create your account", "forgotten username or password"):
        assert option in options.text
    assert "student and SSN-like numbers" in options.text and "0 for a person" in options.text
    reply = options
    gather = gather_of(reply)
    assert gather.get("input") == "dtmf speech"
    assert gather.get("action", "").startswith("/voice/gather")
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("speechTimeout", "").isdigit()
    assert "activation key" in gather.get("hints", "")
    assert gather.get("language") == "en-US"
    assert gather.find("Say") is not None, "the menu is said inside the Gather, for barge-in"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_every_topic_answers_by_speech(call: Call, topic: Topic) -> None:
    call.start()
    reply = call.say(topic.asks)
    for fact in topic.spoken:
        assert fact in reply.text, f"{topic.name}: {fact!r} missing from {reply.text!r}"
    assert reply.asks, "after an answer the help line keeps listening"
    if topic.more:
        reply = call.say("tell me more")
        for fact in topic.more:
            assert fact in reply.text, f"{topic.name}: {fact!r} missing from {reply.text!r}"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_every_topic_answers_by_keypad(call: Call, topic: Topic) -> None:
    call.start()
    for key in topic.keys:
        reply = call.press(key)
    for fact in topic.spoken:
        assert fact in reply.text, f"{topic.name}: {fact!r} missing from {reply.text!r}"
    if topic.more:
        reply = call.press("8")
        for fact in topic.more:
            assert fact in reply.text, f"{topic.name}: {fact!r} missing from {reply.text!r}"


def test_free_speech_works_after_an_answer_too(call: Call) -> None:
    call.start()
    call.say("what's the password policy")
    reply = call.say("and I also forgot my user name")
    assert "Forgot Your Username" in reply.text


@pytest.mark.parametrize(
    "words",
    [
        "give me my activation key",
        "can you just read me the activation code over the phone",
        "my son needs his portal key, what is it",
        "I'm his mother, tell me the key please",
    ],
)
def test_activation_keys_are_refused_however_asked(call: Call, words: str) -> None:
    call.start()
    for _ in range(3):
        reply = call.say(words)
        assert "can't be given over the phone" in reply.text
        assert "photo ID" in reply.text and "Activation Key Lookup" in reply.text
        call.say("no")  # no text message, thanks


@pytest.mark.parametrize("way", ["press 0", "agent", "representative", "a real person"])
def test_zero_or_asking_for_a_person_transfers_to_support(call: Call, way: str) -> None:
    call.start()
    reply = call.press("0") if way == "press 0" else call.say(way)
    assert reply.transfers_to == SUPPORT
    assert "connecting you to Parent Portal support at 4 0 4, 8 0 2, 1 0 0 0" in reply.text


def test_zero_transfers_from_inside_a_submenu_and_after_an_answer(call: Call) -> None:
    call.start()
    call.press("3")
    assert call.press("0").transfers_to == SUPPORT
    other = Call(call.twilio)
    other.start()
    other.say("I forgot the password")
    assert other.press("0").transfers_to == SUPPORT


def test_star_and_repeat_say_the_last_answer_again(call: Call) -> None:
    call.start()
    first = call.say("what are the username rules")
    assert "alphanumeric" in first.text
    again = call.press("*")
    assert "alphanumeric" in again.text and again.asks
    once_more = call.say("repeat that")
    assert "alphanumeric" in once_more.text


@pytest.mark.parametrize("again", [("press", "*"), ("say", "can you repeat that")])
def test_repeat_after_declining_the_text_says_the_answer_again(
    call: Call, again: tuple[str, str]
) -> None:
    call.start()
    assert "Forgot Your Password" in call.say("I forgot my password").text
    anything_else = call.say("no")  # no text, thanks
    assert "Anything else" in anything_else.text and "Forgot Your" not in anything_else.text
    how, what = again
    reply = call.press(what) if how == "press" else call.say(what)
    assert "Forgot Your Password" in reply.text and "Anything else" in reply.text


def test_when_the_reset_email_never_came_the_caller_is_offered_support(call: Call) -> None:
    call.start()
    call.say("I forgot my password")
    call.say("no")
    offer = call.say("I did that and the email never came")
    assert "support can help" in offer.text and offer.asks and offer.transfers_to is None
    assert call.say("yes please").transfers_to == SUPPORT


def test_a_caller_who_declines_support_after_a_failed_reset_carries_on(call: Call) -> None:
    call.start()
    call.say("I don't have access to that email anymore")
    assert "Anything else" in call.press("2").text


def test_after_an_answer_a_menu_number_picks_that_topic_and_never_hangs_up(call: Call) -> None:
    call.start()
    call.say("what are the username rules")  # an answer, then "Anything else?"
    reply = call.press("2")  # "2 to create your account", as the menu said
    assert "Creating your account" in reply.text and not reply.heard.hung_up


def test_not_understood_after_an_answer_the_options_are_the_menus_topics(call: Call) -> None:
    call.start()
    call.say("what are the username rules")
    call.say("purple elephants")
    options = call.say("purple elephants")
    assert "2 to create your account" in options.text and "end the call" not in options.text
    assert "goodbye" in options.text and not options.heard.hung_up


def test_a_parent_who_never_made_an_account_hears_how_and_where_a_key_comes_from(
    call: Call,
) -> None:
    call.start()
    call.say("I can't log in")  # username, password or locked?
    reply = call.say("neither, I never made an account")
    assert "click New User" in reply.text
    assert "Say activation key" in call.say("tell me the rest").text


def test_an_answer_does_not_offer_a_person_twice_in_one_breath(call: Call) -> None:
    call.start()
    reply = call.say("my account got locked")
    assert "4 0 4, 8 0 2, 1 0 0 0" in reply.text
    assert reply.text.lower().count("press 0") == 1, reply.text


def test_a_landline_caller_offered_a_text_is_not_sent_one(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.say("I forgot my password")
    reply = call.say("this is a landline")
    assert "Anything else" in reply.text and not reply.heard.hung_up
    assert outbox.messages() == []


@pytest.mark.parametrize(
    "said", ["no thanks, how do I find the student number", "nope, what's my student number"]
)
def test_a_no_with_a_new_request_keeps_the_request(call: Call, said: str) -> None:
    call.start()
    call.say("I forgot my password")
    call.say("no")  # no text
    reply = call.say(said)  # at "Anything else?"
    assert not reply.heard.hung_up and "student number" in reply.text


@pytest.mark.parametrize(
    "said", ["the activation code never came", "I never got the code for the portal"]
)
def test_away_from_the_code_question_a_code_that_never_came_is_the_activation_key(
    call: Call, said: str
) -> None:
    call.start()
    reply = call.say(said)
    assert "activation key" in reply.text.lower() and "can take a minute" not in reply.text


def test_a_text_that_did_not_arrive_is_never_read_as_yes_or_no(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.press("1")
    call.say("yes")  # texted; now "Anything else?"
    reply = call.say("I didn't get the text")
    assert not reply.heard.hung_up and reply.transfers_to is None and reply.asks
    call.say("I forgot my password")
    before = len(outbox.messages())
    offer = call.say("no text needed")  # at "Would you like me to text that?"
    assert not offer.heard.hung_up and len(outbox.messages()) == before


def test_main_menu_goes_back_to_the_menu(call: Call) -> None:
    call.start()
    call.press("3")
    reply = call.say("main menu")
    assert "press 1 for activation keys" in reply.text


def test_silence_reprompts_twice_differently_then_transfers(call: Call) -> None:
    first_prompt = call.start().text
    first = call.silence()
    second = call.silence()
    assert first.asks and second.asks
    assert "didn't hear" in first.text
    assert first.text != second.text and second.text != first_prompt
    assert "press 1" in second.text.lower(), "the second re-prompt spells out the keys"
    third = call.silence()
    assert third.transfers_to == SUPPORT


def test_unrecognised_answers_reprompt_twice_then_transfer(call: Call) -> None:
    call.start()
    first = call.say("purple elephant trampoline")
    second = call.say("zzzz qqqq")
    assert "didn't catch that" in first.text and first.asks
    assert "still didn't understand" in second.text and second.asks
    assert call.say("blorp").transfers_to == SUPPORT


def test_an_understood_answer_resets_the_retry_count(call: Call) -> None:
    call.start()
    call.silence()
    call.silence()
    call.say("what is the login page")
    reply = call.silence()
    assert reply.asks and reply.transfers_to is None


def test_a_key_that_is_not_a_choice_is_said_to_be_one_then_the_choices(call: Call) -> None:
    call.start()
    reply = call.press("7")
    assert "not one of the choices" in reply.text and "press 1 for activation keys" in reply.text
    assert reply.asks
    call.press("7")
    assert call.press("7").transfers_to == SUPPORT, "still a miss: three and a person helps"


def test_details_are_texted_to_the_caller_on_request(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    offer = call.say("where do I log in to the parent portal")
    assert "by text?" in offer.text
    reply = call.say("yes please")
    assert "sent a text message" in reply.text
    sent = outbox.messages()
    assert len(sent) == 1
    assert sent[0]["to"] == call.base["From"]
    assert "ic.apsk12.org/campus/portal/atlanta.jsp" in sent[0]["body"]


@pytest.mark.parametrize("said", ["uh-huh", "Mm-hmm.", "ya"])
def test_a_yes_without_a_word_for_it_sends_the_text(call: Call, outbox, said: str) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.say("where do I log in to the parent portal")  # "Would you like that by text?"
    reply = call.say(said)
    assert "sent a text message" in reply.text and not reply.heard.hung_up
    assert len(outbox.messages()) == 1


@pytest.mark.parametrize("said", ["that's it", "thats it thank you"])
def test_thats_it_after_an_answer_ends_the_call(call: Call, said: str) -> None:
    call.start()
    call.say("what are the username rules")
    assert call.say(said).heard.hung_up


@pytest.mark.parametrize(
    "said", ["you all are useless", "i tried everything", "all i want is my password"]
)
def test_all_everything_or_done_inside_a_sentence_never_hangs_up(call: Call, said: str) -> None:
    call.start()
    assert not call.say(said).heard.hung_up


@pytest.mark.parametrize(("language", "said"), [("en", "that's all"), ("es", "eso es todo")])
def test_thats_all_ends_the_call_only_after_an_answer(call: Call, language: str, said: str) -> None:
    call.start()
    if language == "es":
        call.press("9")
    at_menu = call.say(said)
    assert at_menu.asks and not at_menu.heard.hung_up
    call.press("1")  # the activation-key answer
    call.press("2")  # no text; "Anything else?"
    assert call.say(said).heard.hung_up


def test_thats_it_anywhere_else_is_no_goodbye(call: Call) -> None:
    call.start()
    call.say("forgot my password", confidence="0.1")  # "Did you want help with ...?"
    reply = call.say("that's it")
    assert reply.asks and not reply.heard.hung_up


def test_a_caller_who_declined_the_text_can_ask_for_it_after_all(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.say("where do I log in to the parent portal")
    call.say("no")  # no text; now "Anything else?"
    reply = call.say("actually can you text that to me")
    assert "sent a text message" in reply.text and not reply.heard.hung_up
    sent = outbox.messages()
    assert len(sent) == 1 and "ic.apsk12.org/campus/portal/atlanta.jsp" in sent[0]["body"]


def test_text_me_before_any_answer_asks_what_about_and_sends_nothing(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    reply = call.say("can you text that to me")
    assert reply.asks and "Tell me what you need" in reply.text  # the menu, to choose
    assert "can't be given" not in reply.text and outbox.messages() == []


def test_declining_the_text_sends_nothing(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.press("1")
    reply = call.press("2")
    assert "Anything else" in reply.text
    assert outbox.messages() == []


def test_a_caller_whose_number_is_withheld_is_not_offered_a_text(twilio, outbox) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller="anonymous")
    call.start()
    reply = call.say("I need an activation key")
    assert "photo ID" in reply.text and "Anything else" in reply.text
    assert "by text?" not in reply.text and "tiny A P S dot com" in reply.text
    assert outbox.messages() == []


def test_last_four_digits_starts_verification_and_a_person_is_one_key_away(call: Call) -> None:
    call.start()
    reply = call.say(SSN_LAST4.asks)
    for fact in SSN_LAST4.spoken:
        assert fact in reply.text
    assert reply.asks and "then press pound" in reply.text
    assert call.press("0").transfers_to == SUPPORT


def test_goodbye_ends_the_call(call: Call) -> None:
    call.start()
    call.say("forgot my password")
    call.say("no")  # no text
    reply = call.say("no thanks, that's everything")
    assert reply.heard.hung_up and "Goodbye" in reply.text


@pytest.mark.parametrize("words", ["thank you", "thanks", "ok thank you"])
def test_thanks_before_anything_was_answered_does_not_hang_up(call: Call, words: str) -> None:
    call.start()
    reply = call.say(words)
    assert not reply.heard.hung_up and reply.asks
    assert "press 1 for activation keys" in reply.text


@pytest.mark.parametrize("words", ["hang on", "hold on a second", "one sec"])
def test_a_caller_who_needs_a_moment_at_the_menu_gets_it(call: Call, words: str) -> None:
    call.start()
    reply = call.say(words)
    assert "take your time" in reply.text and "press 1 for activation keys" in reply.text
    assert reply.asks and reply.transfers_to is None
    assert "Forgot Your Password" in call.say("I forgot my password").text


def test_thanks_after_an_answer_ends_the_call(call: Call) -> None:
    call.start()
    call.say("forgot my password")
    call.say("no")  # no text
    reply = call.say("thank you")
    assert reply.heard.hung_up and "Goodbye" in reply.text


def test_thanks_at_the_text_offer_declines_the_text_and_keeps_the_call(call: Call, outbox) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.say("forgot my password")
    reply = call.say("ok thanks")
    assert not reply.heard.hung_up and "Anything else?" in reply.text
    assert outbox.messages() == []


def test_thanks_at_a_verification_question_asks_it_again(call: Call) -> None:
    call.start()
    call.say("I need the last four digits of my son's SSN-like number")
    reply = call.say("thank you")
    assert not reply.heard.hung_up and "student number" in reply.text and reply.asks


def test_an_upset_caller_is_put_through_to_a_person_not_booked_a_callback(call: Call, app) -> None:  # type: ignore[no-untyped-def]
    call.start()
    reply = call.say("this is ridiculous, I've called three times and nobody helps me")
    assert reply.transfers_to == SUPPORT
    assert services(app).handoffs.callbacks() == []


def test_a_complaint_about_support_with_a_request_is_not_taken_as_a_callback_request(
    call: Call,
    app,  # type: ignore[no-untyped-def]
) -> None:
    call.start()
    reply = call.say("I've been calling all day, nobody answers, I just need the activation key")
    assert "activation key" in reply.text.lower() and "call you back" not in reply.text
    assert services(app).handoffs.callbacks() == []


@pytest.mark.parametrize(
    "question",
    ["what time does the bus come", "I want to enroll my child", "when do report cards come out"],
)
def test_school_questions_beyond_the_portal_are_sent_to_the_school_not_to_portal_support(
    call: Call, question: str
) -> None:
    call.start()
    reply = call.say(question)
    assert "only helps with the Parent Portal" in reply.text and "child's school" in reply.text
    assert "4 0 4" not in reply.text and "New User" not in reply.text and reply.asks


@pytest.mark.parametrize("said", ["march 14 2015", "March"])
def test_a_month_is_never_the_password_rules(call: Call, said: str) -> None:
    call.start()
    reply = call.say(said)
    assert "alphanumeric" not in reply.text and "password rules" not in reply.text
    assert reply.asks


def test_a_changed_email_address_is_a_reset_that_did_not_work(call: Call) -> None:
    call.start()
    reply = call.say("my email changed and I can't get the reset email")
    assert "4 0 4, 8 0 2, 1 0 0 0" in reply.text and "Log in to review" not in reply.text


def test_take_your_time_really_waits_longer_for_the_answer(call: Call) -> None:
    call.start()
    usual = gather_of(call.last).get("timeout")
    held = call.say("hang on")
    assert int(gather_of(held).get("timeout", "0")) >= 30 > int(usual or "0")


def test_a_callback_request_keeps_the_topic_it_is_about(call: Call, app) -> None:  # type: ignore[no-untyped-def]
    call.start()
    call.say("I forgot my password")
    call.say("no")  # no text
    assert "call you back" in call.say("can support call me back").text
    [callback] = services(app).handoffs.callbacks()
    assert callback["topic"] == "forgot_password"


@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("I don't need a person, I forgot my password", "Forgot Your Password"),
        ("not a person, I forgot my password", "Forgot Your Password"),
        ("have a representative call me back", "call you back"),
    ],
)
def test_a_person_mentioned_without_asking_for_one_is_no_transfer(
    call: Call, said: str, heard: str
) -> None:
    call.start()
    reply = call.say(said)
    assert reply.transfers_to is None and heard in reply.text


def test_support_not_answering_is_told_and_not_redialled(call: Call) -> None:
    call.start()
    call.press("0")
    reply = call.dial_ends("no-answer")
    assert "no one at support could take your call" in reply.text
    assert "call you back" in reply.text
    assert reply.transfers_to is None and reply.asks


def test_a_withheld_number_is_offered_no_call_back_when_support_does_not_answer(twilio) -> None:  # type: ignore[no-untyped-def]
    call = Call(twilio, caller="anonymous")
    call.start()
    call.press("0")
    reply = call.dial_ends("no-answer")
    assert "call you back" not in reply.text and "by text" not in reply.text
    assert "4 0 4, 8 0 2, 1 0 0 0" in reply.text and reply.heard.hung_up


def test_a_completed_transfer_ends_politely(call: Call) -> None:
    call.start()
    call.press("0")
    reply = call.dial_ends("completed")
    assert reply.heard.hung_up and "Thank you" in reply.text


def test_a_repeated_webhook_gets_the_same_answer_and_counts_once(call: Call) -> None:
    call.start()
    action = call._action()
    first = call.twilio.post(action, call.base)  # silence
    again = call.twilio.post(action, call.base)  # Twilio retried the same request
    assert first.get_data() == again.get_data()
    call.last = Reply(again)
    second = call.silence()
    assert second.asks, "a retried silence must not count as a second silence"
    assert "I still didn't hear anything" in second.text


def test_after_support_did_not_answer_silence_ends_the_call_instead_of_redialling(
    call: Call,
) -> None:
    call.start()
    call.press("0")
    call.dial_ends("no-answer")
    call.silence()
    call.silence()
    reply = call.silence()
    assert reply.transfers_to is None and reply.heard.hung_up
    assert "later" in reply.text and "4 0 4, 8 0 2, 1 0 0 0" in reply.text


def test_no_at_the_main_menu_does_not_hang_up(call: Call) -> None:
    call.start()
    reply = call.say("no")
    assert reply.asks and not reply.heard.hung_up


@pytest.mark.parametrize(
    ("answer", "heard"),
    [
        ("my password", "Forgot Your Password"),
        ("the username", "Forgot Your Username"),
        ("two", "Forgot Your Password"),
        ("it says it's locked", "locked until the next day"),
    ],
)
def test_a_caller_who_cannot_log_in_is_asked_why_before_being_answered(
    call: Call, answer: str, heard: str
) -> None:
    call.start()
    question = call.say("I can't log in to the parent portal")
    assert "forgotten username" in question.text and "locked" in question.text
    assert question.asks and "Forgot Your" not in question.text
    assert heard in call.say(answer).text


@pytest.mark.parametrize("answer", ["both", "I forgot my username and my password"])
def test_a_caller_who_forgot_both_hears_how_to_get_both_back(call: Call, answer: str) -> None:
    call.start()
    call.press("3")
    reply = call.say(answer)
    assert "Forgot Your Username" in reply.text and "Forgot Your Password" in reply.text
    assert "address on record" in reply.text and "by text?" in reply.text


def test_saying_again_that_you_cannot_log_in_leads_to_a_person_not_a_loop(call: Call) -> None:
    call.start()
    first = call.say("I can't log in")
    replies = [call.say("I can't log in") for _ in range(3)]
    assert replies[0].text != first.text, "not the same question again as if understood"
    assert any("press 1" in reply.text.lower() for reply in replies[:2])
    assert replies[-1].transfers_to == SUPPORT


def test_not_sure_which_gets_the_menu_not_a_guess(call: Call) -> None:
    call.start()
    call.say("I can't log in")
    reply = call.say("I don't know")
    assert "press 1 for activation keys" in reply.text and "Forgot Your" not in reply.text


@pytest.mark.parametrize(
    ("hello", "heard", "choices"),
    [
        ("good evening", "What can I help you with?", "press 1"),
        ("hello?", "What can I help you with?", "press 1"),
        ("hola", "¿En qué le puedo ayudar?", "oprima 1"),
        ("buenas tardes", "¿En qué le puedo ayudar?", "oprima 1"),
    ],
)
def test_a_hello_at_the_menu_gets_a_short_question_in_its_language(
    call: Call, hello: str, heard: str, choices: str
) -> None:
    call.start()
    reply = call.say(hello)
    assert heard in reply.text and reply.asks and not reply.heard.hung_up
    assert choices not in reply.text and "catch" not in reply.text and "entendí" not in reply.text
    assert "Did you want" not in reply.text and "Forgot Your" not in reply.text


@pytest.mark.parametrize(("words", "misses"), [("hello?", 3), ("I don't know", 2)])
def test_saying_it_again_and_again_at_the_menu_reaches_a_person(
    call: Call, words: str, misses: int
) -> None:
    """A first hello is no miss (a short question answers it); the hellos after it are, so
    a bad line still reaches a person."""
    call.start()
    replies = [call.say(words) for _ in range(misses + 1)]
    assert "press 1" in replies[misses - 1].text.lower(), "the choices spelled out"
    assert replies[-1].transfers_to == SUPPORT


def test_asking_for_help_gives_the_menu(call: Call) -> None:
    call.start()
    assert "press 1 for activation keys" in call.say("I need some help").text


def test_callers_at_the_same_point_get_the_same_prompt_rendered_once(
    twilio, app, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    svc = services(app)
    renders = []
    original = voice.render
    monkeypatch.setattr(voice, "render", lambda turn: renders.append(turn) or original(turn))

    # The guard checked every prompt at start-up, so the first greeting is kept at once.
    first = Call(twilio).start()
    second = Call(twilio, caller="+14045550177").start()
    assert first.asks and second.xml == first.xml
    assert len(renders) == 1 and len(svc.rendered) == 1
    third = Call(twilio, caller="+14045550166").start()
    assert third.xml == first.xml
    assert len(renders) == 1, "the later callers' greeting came from memory"


def test_a_transfer_is_rendered_for_its_caller_and_never_kept(twilio, app) -> None:  # type: ignore[no-untyped-def]
    rendered = services(app).rendered
    for caller in ("+14045550177", "+14045550166"):
        call = Call(twilio, caller=caller)
        call.start()
        reply = call.press("0")
        assert reply.transfers_to == SUPPORT
        assert caller in reply.xml  # the agent sees this parent's number
        assert not any(caller in text for text in rendered.values())
    assert not any("<Dial" in text for text in rendered.values())


def test_callers_at_the_same_turn_hear_their_own_topic_from_memory_too(twilio) -> None:  # type: ignore[no-untyped-def]
    """Every topic's answer at the same turn number, three rounds in one app: the second and
    third are served from memory and must still be each caller's own."""
    for _ in range(3):
        for topic in TOPICS:
            call = Call(twilio)
            call.start()
            for key in topic.keys:
                reply = call.press(key)
            for fact in topic.spoken:
                assert fact in reply.text, f"{topic.name}: {fact!r} missing from {reply.text!r}"
