"""Text messages, as conversations: the parent texts, the help line replies."""

from __future__ import annotations

import pytest

from tests.helpers import CALLER, Thread
from tests.topics import SSN_LAST4, TOPICS, Topic
from voicebot.channels.segments import is_gsm7, segments
from voicebot.services import services


def one_message(reply) -> str:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply
    assert len(reply.heard.messages) == 1, reply.xml
    text = reply.heard.messages[0]
    assert is_gsm7(text), f"not plain GSM-7: {text!r}"
    assert segments(text) <= 2, f"{segments(text)} segments: {text!r}"
    return text


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_every_topic_answers_by_text(thread: Thread, topic: Topic) -> None:
    text = one_message(thread.text(topic.asks))
    for fact in topic.texted:
        assert fact in text, f"{topic.name}: {fact!r} missing from {text!r}"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_every_topic_answers_by_menu_numbers(thread: Thread, topic: Topic) -> None:
    thread.text("MENU")
    for key in topic.keys:
        reply = thread.text(key)
    text = one_message(reply)
    for fact in topic.texted:
        assert fact in text


def test_a_first_hello_gets_the_menu(thread: Thread) -> None:
    text = one_message(thread.text("hi"))
    assert "Parent Portal help line" in text and "1 Activation key" in text


def test_a_texter_who_cannot_log_in_is_asked_why(thread: Thread) -> None:
    question = one_message(thread.text("cant log in to infinite campus"))
    assert "1 Forgot username, 2 Forgot password, 3 Account locked" in question
    assert "Forgot Your Username" in one_message(thread.text("1"))


def test_a_spanish_texter_who_cannot_get_in_is_asked_why_in_spanish(thread: Thread) -> None:
    question = one_message(thread.text("no puedo entrar al portal"))
    assert "Olvidé mi contraseña" in question and "Cuenta bloqueada" in question


def test_a_texter_who_forgot_both_gets_both_links_in_one_text(thread: Thread) -> None:
    text = one_message(thread.text("forgot my username and password"))
    assert "Forgot Your Username" in text and "Forgot Your Password" in text
    assert "address on record" in text and "404-802-1000" in text


def test_menu_lists_the_topics(thread: Thread) -> None:
    thread.text("forgot my password help")
    text = one_message(thread.text("MENU"))
    for topic in ("Activation key", "Create an account", "Forgot username or password", "0 Talk"):
        assert topic in text


def test_agent_gives_the_support_number_and_the_call_back(thread: Thread) -> None:
    text = one_message(thread.text("AGENT"))
    assert "404-802-1000" in text and "CALL ME" in text
    assert "call you back" in one_message(thread.text("nobody answers that number"))


@pytest.mark.parametrize("words", ["thanks", "ok thank you", "gracias"])
def test_thanks_after_agent_ends_the_thread_instead_of_listing_topics(
    thread: Thread, words: str
) -> None:
    thread.text("AGENT")
    text = one_message(thread.text(words))
    assert "1 Activation key" not in text and "Activation" not in text
    assert "Text us any time" in text or "Gracias" in text


def test_espanol_after_agent_gives_the_way_to_a_person_again_in_spanish(thread: Thread) -> None:
    thread.text("AGENT")
    text = one_message(thread.text("español"))
    assert "404-802-1000" in text and "LLAMENME" in text
    assert "Gracias" in one_message(thread.text("gracias"))


def test_after_agent_a_topic_number_or_call_me_still_works(thread: Thread) -> None:
    thread.text("AGENT")
    assert "Creating your account. Reply 1" in one_message(thread.text("2"))
    thread.text("AGENT")
    assert "call you back" in one_message(thread.text("CALL ME"))


def test_activation_keys_are_never_given_by_text(thread: Thread) -> None:
    for words in ("what is my activation key", "text me the key", "activation key", "key pls"):
        text = one_message(thread.text(words))
        assert "can't be given by phone or text" in text and "tinyAPS.com/?lookup" in text


def test_last_four_digits_starts_verification_and_agent_gives_the_number(thread: Thread) -> None:
    text = one_message(thread.text(SSN_LAST4.asks))
    for fact in SSN_LAST4.texted:
        assert fact in text
    assert "404-802-1000" in one_message(thread.text("AGENT"))


def test_help_says_who_we_are_and_the_support_number(thread: Thread) -> None:
    text = one_message(thread.text("HELP"))
    assert "Parent Portal help line" in text and "404-802-1000" in text and "STOP" in text


def test_stop_silences_the_help_line_until_start(thread: Thread, app) -> None:  # type: ignore[no-untyped-def]
    reply = thread.text("STOP")
    assert reply.status == 200 and reply.heard.messages == []
    assert services(app).optouts.has(CALLER)
    assert thread.text("forgot my password help").heard.messages == []
    assert thread.text("START").heard.messages == []
    assert not services(app).optouts.has(CALLER)
    assert "Forgot Your Password" in one_message(thread.text("forgot my password help"))


def test_stop_by_twilio_opt_out_type_is_honoured(thread: Thread, app) -> None:  # type: ignore[no-untyped-def]
    reply = thread.text("please stop texting me", OptOutType="STOP")
    assert reply.heard.messages == []
    assert services(app).optouts.has(CALLER)


def test_nothing_is_texted_during_a_call_to_a_number_that_opted_out(twilio, thread, outbox) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import Call

    thread.text("STOP")
    call = Call(twilio)
    call.start()
    call.say("what's the portal login address")
    told = call.say("yes")
    assert outbox.messages() == []
    assert "turned off our text messages" in told.text and "I've sent" not in told.text
    assert "text START" in told.text  # what they can do about it
    again = call.say("repeat that")
    assert "I've sent" not in again.text


def test_unrecognised_texts_are_answered_then_handed_to_a_person(thread: Thread) -> None:
    thread.text("hello")
    first = one_message(thread.text("purple trampoline"))
    second = one_message(thread.text("zzz qqq"))
    assert "didn't understand" in first and "still didn't understand" in second
    third = one_message(thread.text("blorp"))
    assert "404-802-1000" in third


def test_a_text_conversation_expires_after_30_idle_minutes(thread: Thread, app) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import HELPLINE
    from voicebot.channels.sms import conversation_id

    thread.text("MENU")
    key = services(app).settings.secret_key
    ttl = services(app).store.ttl(conversation_id(CALLER, HELPLINE, key))
    assert 29 * 60 < ttl <= 30 * 60


def test_a_retried_message_is_answered_once(thread: Thread, twilio) -> None:  # type: ignore[no-untyped-def]
    thread.text("hello")
    fields = {"MessageSid": "SM" + "1" * 32, "From": CALLER, "To": "+14045550100", "Body": "x"}
    first = twilio.post("/sms", fields).get_data(as_text=True)
    assert "didn't understand" in first
    again = twilio.post("/sms", fields).get_data(as_text=True)
    assert first == again
    second = one_message(thread.text("still nonsense qqq"))
    assert "still didn't understand" in second, "the retry must not count as a second miss"


def test_goodbye_ends_the_thread_and_the_next_text_starts_over(thread: Thread) -> None:
    thread.text("forgot username")
    assert "Thanks" in one_message(thread.text("bye"))
    assert "1 Activation key" in one_message(thread.text("hello"))


@pytest.mark.parametrize(
    ("first", "account_menu"),
    [("MENU", "Creating your account. Reply 1"), ("ESPAÑOL", "Crear su cuenta. Responda: 1")],
)
def test_after_an_answer_a_topic_number_from_the_list_picks_that_topic(
    thread: Thread, first: str, account_menu: str
) -> None:
    thread.text(first)
    thread.text("1")  # the activation-key answer, then "another question?"
    # 2 is "Create an account" in the list the texter just read, not "goodbye"
    assert account_menu in one_message(thread.text("2"))


def test_y_and_n_answer_yes_and_no_by_text(thread: Thread) -> None:
    thread.text("MENU")
    thread.text("1")  # the activation-key answer, then "another question?"
    assert "1 Activation key" in one_message(thread.text("Y"))  # yes: the topics
    thread.text("1")
    assert "Thanks" in one_message(thread.text("N"))  # no: the end


def test_s_answers_si_in_a_spanish_thread(thread: Thread) -> None:
    thread.text("hola")
    thread.text("1")  # the activation-key answer, then "¿otra pregunta?"
    assert "1 Clave" in one_message(thread.text("S"))  # sí: the topics


def test_text_me_that_in_a_text_thread_sends_the_details_again(thread: Thread, outbox) -> None:  # type: ignore[no-untyped-def]
    thread.text("where do I log in to the parent portal")
    again = " ".join(thread.text("can you text that to me").heard.messages)
    assert "ic.apsk12.org/campus/portal/atlanta.jsp" in again
    assert outbox.messages() == []  # the reply is the text: nothing sent besides


def test_after_an_answer_bye_still_ends_the_thread(thread: Thread) -> None:
    thread.text("MENU")
    thread.text("1")
    assert "Thanks" in one_message(thread.text("bye"))


@pytest.mark.parametrize(
    ("words", "question", "closing"),
    [("thank you", "forgot username", "Thanks"), ("gracias", "olvidé mi usuario", "Gracias")],
)
def test_thanks_after_an_answer_ends_the_thread_but_a_first_thanks_gets_the_topics(
    thread: Thread, words: str, question: str, closing: str
) -> None:
    assert "1 " in one_message(thread.text(words)), "a first thank-you is no goodbye"
    thread.text(question)
    assert closing in one_message(thread.text(words))


def test_repeat_after_an_answer_texts_the_answer_again(thread: Thread) -> None:
    thread.text("MENU")
    thread.text("1")
    assert "tinyAPS.com/?lookup" in one_message(thread.text("repeat"))


@pytest.mark.parametrize(
    ("said", "heard"),
    [("the reset email never comes", "CALL ME"), ("no me llego el correo", "LLAMENME")],
)
def test_a_texter_whose_reset_email_never_came_gets_support_and_a_callback(
    thread: Thread, said: str, heard: str
) -> None:
    text = one_message(thread.text(said))
    assert "404-802-1000" in text and heard in text


def test_a_no_with_a_new_request_by_text_keeps_the_request(thread: Thread) -> None:
    thread.text("forgot my password")
    text = one_message(thread.text("not really, I need the ssn like number"))
    assert "Thanks for contacting" not in text and "SSN-like number" in text


def test_a_texter_whose_text_did_not_arrive_is_not_said_goodbye_to(thread: Thread) -> None:
    thread.text("activation key")
    assert "Thanks for contacting" not in one_message(thread.text("I didnt get the text"))


@pytest.mark.parametrize("words", ["please stop texting me", "unsubscribe me", "stop please"])
def test_asking_in_words_to_stop_texts_says_how_and_is_no_opt_out_itself(
    thread: Thread, words: str
) -> None:
    reply = one_message(thread.text(words))
    assert "reply with the word STOP" in reply
    assert thread.text("forgot username").heard.messages, "still subscribed: only STOP opts out"


def test_call_me_texted_again_and_again_is_one_callback_request(thread: Thread, app) -> None:  # type: ignore[no-untyped-def]
    for words in ("CALL ME", "call me!", "Call me back pls"):
        assert "call you back" in " ".join(thread.text(words).heard.messages)
    assert len(services(app).handoffs.callbacks()) == 1


def test_the_ssn_like_answer_says_how_to_get_the_last_four_now(thread: Thread) -> None:
    answer = " ".join(thread.text("whats my kids ssn like number").heard.messages)
    assert "main office" in answer and "reply LAST 4" in answer
    assert "student number" in " ".join(thread.text("LAST 4").heard.messages).lower()
