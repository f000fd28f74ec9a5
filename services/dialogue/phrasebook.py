"""Phrase material for the offline composer: sentence templates per dialogue act, and the word
lists its topic reader uses. Written for this project.

A template is one sentence. ``{field}`` slots are filled by the composer (see ``composer.py``):
``about`` (the topic as the prompt words it, e.g. "planning the party for Grandma"), ``np`` (the
topic as a noun phrase), ``it``/``is``/``has`` (agreement), ``event`` (the prompt's own statement,
"my cat ate my homework", turned to the speaker's point of view), ``detail`` (another thing the
prompt names), ``addr`` (how the speaker addresses the partner: "Mum", "Doctor Okafor", "Sam"),
``me`` (the speaker's first name), and new or reused conversation details: ``concern`` /
``the_concern``, ``idea`` / ``the_idea``, ``time`` / ``the_time``, ``past`` / ``the_past``,
``feeling`` / ``the_feeling``, ``person`` / ``the_person``. A capitalised slot (``{About}``)
capitalises its value. A leading ``[category intensity]`` sets the sentence's emotion.

Keys are ``ACT`` (any family), ``ACT/<family>`` or ``ACT/<register>``; registers say who speaks
to whom (``elder`` = a parent or grandparent to the younger one, ``boss``, ``stranger``, …).
"""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


def phrases(text: str) -> tuple[str, ...]:
    """The "|"-separated phrases of ``text``."""
    return tuple(p.strip() for p in text.split("|"))


T: dict[str, tuple[str, ...]] = {
    # -- openings -------------------------------------------------------------------------------
    "GREET/elder": (
        "[happy .4] Hi, {addr}. You're home early.",
        "[happy .3] There you are, {addr}.",
        "Come and sit with me for a minute, {addr}.",
        "[happy .5] {Addr}! I was hoping to catch you.",
        "[happy .3] Hello, love. Come in, come in.",
    ),
    "GREET/younger": (
        "[happy .3] Hi, {addr}.",
        "Hey, {addr}. Sorry to barge in.",
        "[happy .4] {Addr}, you're home!",
        "Hi, {addr}. Sorry, I know you're tired.",
    ),
    "GREET/close": (
        "[happy .6] Hey, {addr}!",
        "[happy .5] Hi! Good to see you.",
        "[happy .4] There you are!",
        "[happy .5] {Addr}! Sit down, I saved you a seat.",
        "Oh good, you're here.",
        "[happy .4] Hey, you.",
    ),
    "GREET/intimate": (
        "[happy .4] Hey, love.",
        "Hi, {addr}. Come here, sit down.",
        "[happy .3] There you are, {addr}.",
        "[happy .5] Hey, you. I missed you today.",
    ),
    "GREET/work_peer": (
        "Morning, {addr}.",
        "[happy .3] Hi, {addr}. Glad I caught you.",
        "[happy .3] Oh, {addr}, perfect timing.",
    ),
    "GREET/boss": (
        "Morning, {addr}. Thanks for coming in.",
        "Ah, {addr}, come in and take a seat.",
        "[happy .3] Hi, {addr}, thanks for making the time.",
        "Good, you're here, {addr}. Close the door, would you?",
    ),
    "GREET/staff": (
        "Good morning, {addr}.",
        "Hi, {addr}, thanks for seeing me.",
        "Sorry to interrupt, {addr}.",
    ),
    "GREET/teacher": (
        "Ah, {addr}, come in.",
        "[happy .3] Hello, {addr}, take a seat.",
        "[happy .4] Good to see you, {addr}.",
    ),
    "GREET/learner": (
        "Hello, {addr}. Thanks for seeing me.",
        "Hi, {addr}, is now a good time?",
        "Sorry I'm a bit late, {addr}.",
    ),
    "GREET/doctor": (
        "Hello, {addr}, come on in and have a seat.",
        "[happy .3] Good to see you again, {addr}.",
        "Hi, {addr}. Thanks for coming in today.",
    ),
    "GREET/patient": ("Hello, {addr}. Thanks for fitting me in.", "Hi, {addr}."),
    "GREET/interviewer": (
        "[happy .3] Hello, {addr}, thank you for coming in today.",
        "Welcome, {addr}. Please, have a seat.",
    ),
    "GREET/candidate": (
        "Good morning, {addr}. Thank you for having me.",
        "[happy .3] Hello, {addr}, it's nice to meet you.",
    ),
    "GREET/service": (
        "[happy .5] Hi there, welcome in!",
        "[happy .4] Good evening! Are you being looked after?",
    ),
    "GREET/customer": ("Hi, excuse me.", "Hello there. Sorry, have you got a moment?"),
    "GREET/stranger": (
        "Excuse me, is anyone sitting here?",
        "Sorry, do you mind if I sit here?",
        "[happy .3] Hi. Sorry to bother you.",
    ),
    "CHECK": (
        "Have you got a minute?",
        "Can I talk to you about something?",
        "Is now a good time?",
    ),
    "CHECK/elder": ("Have you got a minute, {addr}?", "Can we have a little chat?"),
    "CHECK/younger": ("Can I ask you something?", "Can I talk to you about something?"),
    "CHECK/boss": ("Could I borrow you for a few minutes?", "Have you got ten minutes?"),
    "CHECK/staff": ("Do you have a moment?", "Could I run something by you?"),
    "CHECK/learner": ("Could I ask you about something?", "Do you have a few minutes?"),
    "WHATSUP": (
        "Sure, what's up?",
        "Of course. What's going on?",
        "[surprised .3] Uh-oh. What is it?",
        "[happy .3] Always. What's on your mind?",
    ),
    "WHATSUP/boss": ("Of course. What can I do for you?", "Sure, go ahead."),
    "WHATSUP/teacher": ("Of course. What's on your mind?", "Sure. What can I help with?"),
    "WHATSUP/elder": (
        "Of course, {addr}. What is it?",
        "[surprised .3] Always. Is everything okay?",
    ),
    "GREET_BACK": ("[happy .3] Hi, {addr}.", "[happy .4] Hey!", "Hi."),
    "GREET_BACK/elder": ("[happy .4] Hello, {addr}.", "[happy .3] Hi, love."),
    "GREET_BACK/intimate": ("[happy .4] Hey, you.", "Hi, love."),
    "GREET_BACK/boss": ("Morning, {addr}.", "Hi, {addr}."),
    "GREET_BACK/staff": ("Morning.", "Thanks, {addr}."),
    "GREET_BACK/learner": ("Thank you, {addr}.", "Hello, {addr}."),
    "GREET_BACK/patient": ("Thanks, {addr}.", "Hello, {addr}."),
    "GREET_BACK/candidate": ("Thank you, {addr}.",),
    "GREET_BACK/service": ("[happy .4] Hi! What can I do for you?",),
    "GREET_BACK/customer": ("[happy .3] Hi, thanks.",),
    "GREET_BACK/stranger": (
        "No, go ahead.",
        "[happy .3] Not at all, please.",
        "Sure, have a seat.",
    ),
    "INTRO": ("[happy .3] I'm {me}, by the way.", "I'm {me}, by the way. I don't think we've met."),
    "INTRO_BACK": ("[happy .4] Nice to meet you, {partner}. I'm {me}.", "{me}. Nice to meet you."),
    # -- raising the topic ----------------------------------------------------------------------
    "RAISE": (
        "I've been thinking about {about0}.",
        "Can we talk about {about0}?",
        "I wanted to ask you about {about0}.",
        "I keep coming back to {about0}.",
        "There's something on my mind: {about0}.",
    ),
    "RAISE/event": (
        "[surprised .6] You won't believe this: {event}.",
        "[surprised .5] So... {event}.",
        "I have to tell you something. {Event}.",
        "[surprised .5] Guess what. {Event}.",
    ),
    "RAISE/event/emotional": (
        "[sad .7] I need to tell you something. {Event}.",
        "[sad .6] I don't know how to say this. {Event}.",
        "[sad .7] Sorry, I'm a bit of a mess. {Event}.",
    ),
    "RAISE/casual": (
        "[happy .4] Guess what's been on my mind all week? {About0}.",
        "[happy .3] Okay, I need your opinion on {about0}.",
        "[happy .4] So I've been meaning to ask you about {about0}.",
    ),
    "RAISE/professional": (
        "I wanted to go over {about0} with you.",
        "We need to make a decision on {about0}.",
        "I'd like your input on {about0} before the end of the week.",
        "I think it's time we talked properly about {about0}.",
    ),
    "RAISE/emotional": (
        "[sad .6] I can't stop thinking about {about0}.",
        "[fearful .6] Honestly, I've been a mess about {about0}.",
        "[sad .5] I need to talk to someone about {about0}.",
        "[sad .7] I didn't sleep last night. It's {about0}.",
    ),
    "RAISE/academic": (
        "[fearful .4] I'm completely stuck on {about0}.",
        "I've been going over {about0} and I'm lost.",
        "Can you help me make sense of {about0}?",
        "[fearful .3] I'm getting worried about {about0}.",
    ),
    "RAISE/social": (
        "[happy .6] I'm so excited about {about0}!",
        "[happy .5] Okay, we need to get organised about {about0}.",
        "[happy .4] So, about {about0}. I have ideas.",
    ),
    "RAISE/elder": (
        "I wanted to talk to you about {about0}.",
        "Can we talk about {about0}, {addr}?",
        "I've been meaning to ask you about {about0}.",
    ),
    "RAISE/teacher": (
        "Today I'd like to go through {about0} with you.",
        "Let's talk about {about0}.",
        "I wanted to see how you're getting on with {about0}.",
    ),
    "RAISE/boss": (
        "I wanted to talk to you about {about0}.",
        "Let's go over {about0}.",
        "I'd like to hear your thoughts on {about0}.",
    ),
    "RAISE/doctor": ("I'd like to talk about {about0} today.", "Let's talk about {about0}."),
    "RAISE/interviewer": (
        "I'd like to start by asking you about {about0}.",
        "Let's begin with {about0}.",
    ),
    "RAISE/service": ("I hope you don't mind me asking about {about0}.",),
    "RAISE/customer": (
        "I wanted to ask about {about0}.",
        "[angry .4] I'm sorry, but I need to talk to someone about {about0}.",
    ),
    "RAISE/stranger": (
        "This might sound odd, but I've been thinking about {about0} all day.",
        "Sorry, I just need to tell someone about {about0}.",
    ),
    "ELAB": ("I don't really know where to start.", "It's been on my mind for days."),
    "ELAB/emotional": (
        "[sad .5] I just feel so heavy about it.",
        "[sad .6] I haven't told anyone else yet.",
    ),
    "ELAB/social": ("[happy .5] I really want it to be special.",),
    "ELAB/professional": ("There's a lot riding on it.", "I'd rather we get it right first time."),
    "ELAB/academic": ("[fearful .4] The more I read, the less I understand.",),
    "ELAB/casual": ("[happy .4] It's silly, but I can't stop thinking about it.",),
    # -- reacting to the topic ------------------------------------------------------------------
    "REACT": (
        "Oh, {np}. Funny, I was just thinking about that.",
        "Right, {np}. I've been wondering about that too.",
        "Okay, I'm listening.",
        "[surprised .3] Oh? Go on.",
        "Ah, yes, {np}.",
    ),
    "REACT/event": (
        "[surprised .7] Wait, {event}?",
        "[surprised .6] No way. Seriously?",
        "[surprised .6] Hang on, {event}? How?",
    ),
    "REACT/event/emotional": (
        "[sad .7] Oh no. I'm so sorry.",
        "[sad .6] I had no idea. Come here.",
        "[sad .6] Oh, {addr}. I'm so sorry.",
    ),
    "REACT/casual": (
        "[happy .4] Ha, I had a feeling you'd bring that up.",
        "[happy .3] Oh, I love this already.",
    ),
    "REACT/professional": (
        "Good timing, I wanted to talk about {np} too.",
        "Sure, I've got a few minutes.",
        "Right, {np}. It's been on my list as well.",
    ),
    "REACT/emotional": (
        "[sad .5] Oh, {addr}. I'm so sorry.",
        "[sad .4] I had a feeling something was up.",
        "[sad .4] I'm really glad you told me.",
        "[sad .5] Oh no. Come here.",
    ),
    "REACT/academic": (
        "Oh, {np}. I had a feeling this was coming.",
        "Okay, let's look at it together.",
    ),
    "REACT/social": (
        "[happy .6] Oh, yes! I've been waiting for you to bring that up.",
        "[happy .5] Ooh, tell me everything.",
    ),
    # -- questions and answers ------------------------------------------------------------------
    "ASK_OPINION": (
        "What do you actually think about it?",
        "What's your honest take on {np}?",
        "So what's your gut feeling?",
        "How do you see it?",
        "Be honest with me: what do you make of it?",
    ),
    "ASK_OPINION/professional": ("What's your read on it?", "Where do you think we stand?"),
    "ASK_OPINION/academic": ("What do you make of {np}?", "How far have you got with it?"),
    "ANS_OPINION": (
        "[fearful .4] Honestly? It could be worse, but {concern} worries me.",
        "I think we can manage it, as long as we sort out {concern}.",
        "[fearful .4] I'm not sure yet. {Concern} could be a real problem.",
        "Mixed, to be honest. {Concern} is the part I keep getting stuck on.",
        "[happy .3] Better than I expected. The only thing is {concern}.",
        "[fearful .3] Mostly fine, but we need to think about {detail} too.",
    ),
    "ASK_OPINION/emotional": (
        "[sad .4] How are you, really?",
        "[sad .3] What's going through your head right now?",
        "[sad .4] Do you want to talk about it?",
    ),
    "ANS_OPINION/emotional": (
        "[sad .6] Honestly? I'm not doing great. {Concern} is the hardest part.",
        "[sad .5] Some days are okay. Others, I can't stop thinking about {concern}.",
        "[fearful .6] I'm scared, to be honest. Mostly of {concern}.",
    ),
    "ANS_OPINION/academic": (
        "[fearful .4] The ideas make sense, but {concern} is what scares me.",
        "I get the basics; it's {concern} I struggle with.",
    ),
    "ASK_OPINION/event": (
        "So what happens now?",
        "What are you going to do?",
        "Okay. So what now?",
    ),
    "ANS_OPINION/event": (
        "[fearful .4] I have no idea. {Concern} is what worries me.",
        "[fearful .3] I'll sort it out somehow, but {concern} doesn't help.",
        "[sad .4] Honestly, I don't know. I keep thinking about {concern}.",
    ),
    "ASK_FEEL": ("How are you feeling about it?", "How are you feeling about {about}?"),
    "ASK_FEEL/emotional": (
        "[sad .4] How are you holding up?",
        "[sad .3] How are you really doing?",
    ),
    "ANS_FEEL/neg": (
        "I feel {the_feeling}, mostly because of {concern}.",
        "{The_feeling}, if I'm honest.",
        "Honestly? {The_feeling}. And {concern} doesn't help.",
        "{The_feeling}. I keep thinking about {concern}.",
    ),
    "ANS_FEEL/pos": (
        "{The_feeling}, actually. The only thing is {concern}.",
        "{The_feeling}, if I'm honest.",
        "Honestly? {The_feeling}, apart from {concern}.",
    ),
    "ASK_SINCE": (
        "How long has this been on your mind?",
        "When did all this start?",
        "How long have you been thinking about {about}?",
    ),
    "ANS_SINCE": (
        "{Past}, I think.",
        "{Past}. I just didn't want to bring it up.",
        "Honestly? {Past}.",
    ),
    "ASK_WHEN": (
        "When is it, exactly?",
        "When are we talking?",
        "When does it need to be sorted by?",
    ),
    "ANS_WHEN": (
        "{Time}, if everything goes to plan.",
        "I was thinking {time}.",
        "Probably {time}.",
    ),
    "ASK_NEED": ("What do you need from me?", "How can I help?", "What would help most right now?"),
    "ANS_NEED": (
        "Honestly, mostly some help with {concern}.",
        "If you could talk to {person}, that would help a lot.",
        "Just help me with {concern}, really.",
    ),
    "ANS_NEED/emotional": (
        "[sad .5] I think I just need someone to listen.",
        "[sad .5] Just be around, I suppose.",
        "[sad .4] Maybe just some company this week.",
    ),
    # -- service counters, clinics and interviews: the staff side and the visitor side --------
    "REACT/service": (
        "[sad .4] Oh no, I'm so sorry about {np}.",
        "[sad .3] I'm really sorry to hear that.",
    ),
    "ASK_OPINION/service": (
        "Was everything else alright?",
        "Is there anything else I should know?",
    ),
    "ASK_NEED/service": ("What can I do to make it right?", "How can I fix this for you?"),
    "ASK_FEEL/service": ("Are you alright otherwise?",),
    "OPINION/service": (
        "I think the kitchen has been very busy tonight.",
        "We don't usually get complaints about that.",
    ),
    "WORRY/service": ("[fearful .3] I'm worried about {concern}, to be honest.",),
    "PROPOSE/service": ("Let me {idea}.", "How about I {idea}?", "I could {idea}, if you like."),
    "ACCEPT/service": (
        "[happy .4] Of course, right away.",
        "[happy .3] Absolutely, I'll sort that out now.",
    ),
    "OBJECT/service": (
        "[sad .3] I'm afraid I can't do that.",
        "[sad .3] I'm sorry, that's not something I can do.",
    ),
    "COUNTER/service": ("But I could {idea} instead.", "What I can do is {idea}."),
    "WRAP/service": ("So I'll {the_idea}, and I'm really sorry again.",),
    "ANS_OPINION/customer": (
        "[angry .4] Not really. {Concern} wasn't great either.",
        "[angry .3] Honestly, {concern} was the worst part.",
    ),
    "ANS_NEED/customer": (
        "[angry .3] Honestly, I'd just like it sorted.",
        "[angry .4] I'd like to speak to the manager.",
    ),
    "OPINION/customer": (
        "[angry .5] Honestly, I expected better.",
        "[angry .4] This isn't the first time, either.",
    ),
    "WORRY/customer": ("[angry .4] What bothers me is {concern}.",),
    "PROPOSE/customer": ("Could you {idea}?", "I'd like you to {idea}, please."),
    "ACCEPT/customer": (
        "[happy .4] That would be great, thank you.",
        "[happy .3] Okay, thank you.",
    ),
    "OBJECT/customer": ("[angry .4] No, I don't think that's enough.",),
    "COUNTER/customer": ("Could you {idea} instead?",),
    "WRAP/customer": ("So you'll {the_idea}?",),
    "REASSURE/doctor": (
        "[happy .3] That's a very normal worry, and we'll keep a close eye on it.",
        "[happy .3] I understand. We'll take it one step at a time.",
    ),
    "SHARE_WORRY/doctor": ("[sad .3] I understand. It's a lot to take in.",),
    "ANS_NEED/patient": (
        "Mostly to understand what happens next.",
        "Just some honest answers, really.",
    ),
    "REASSURE/service": ("[sad .3] I understand. I'll see what I can do about {the_concern}.",),
    "SHARE_WORRY/service": ("[sad .3] You're right, {the_concern} isn't good enough.",),
    "ACCEPT_COUNTER/service": ("[happy .3] Of course. I'll do that now.",),
    "REASSURE/customer": ("It's fine, it's not your fault.",),
    "SHARE_WORRY/customer": ("[angry .3] Yes, it's really not great.",),
    "ACCEPT_COUNTER/customer": ("[happy .3] Fine, that works.",),
    "REASSURE/teacher": (
        "[happy .3] Don't worry about {the_concern}; we'll work through it.",
        "[happy .3] {The_concern} catches a lot of people out. You're not alone.",
    ),
    "SHARE_WORRY/teacher": ("I understand. {The_concern} is worth taking seriously.",),
    "REASSURE/boss": (
        "Let's not worry about {the_concern} just yet.",
        "[happy .3] Leave {the_concern} with me.",
    ),
    "SHARE_WORRY/boss": ("[fearful .3] I know. {The_concern} is on my mind too.",),
    "REACT/candidate": ("Of course. Happy to talk about it.", "Sure. It's a fair question."),
    "REACT/patient": ("[fearful .3] Okay. I've been a bit worried about it.", "Okay, thank you."),
    "REACT/staff": ("Of course. I was hoping we'd talk about it.", "Sure, no problem."),
    "ASK_SINCE/doctor": ("How long has this been going on?", "When did you first notice it?"),
    "ASK_OPINION/doctor": ("How have you been feeling about it?", "What worries you most?"),
    "REACT/doctor": ("I see. Thank you for telling me.", "Okay. Let's go through it together."),
    "OPINION/doctor": (
        "I think we caught it early, which is good news.",
        "I'd like to be careful, but I'm not too worried.",
    ),
    "REACT/interviewer": ("Thank you. That's useful to hear.", "Interesting. Tell me more."),
    "ASK_OPINION/interviewer": (
        "What would you say your biggest strength is?",
        "How do you usually handle pressure?",
    ),
    "OPINION/interviewer": ("I think the role would suit someone who likes a challenge.",),
    "ANS_OPINION/candidate": (
        "I'd say I stay calm, although {concern} is something I'm working on.",
        "I'm organised, and I'm honest about {concern}.",
    ),
    # -- follow-ups that reuse what the partner said --------------------------------------------
    "ACK_concern": (
        "{The_concern}, yeah. I hadn't thought about that.",
        "[fearful .3] Mm. {The_concern} is the tricky part.",
        "I see what you mean about {the_concern}.",
    ),
    "ACK_feeling/neg": (
        "[sad .3] That's completely understandable.",
        "[sad .3] I'd feel {the_feeling} too, honestly.",
        "That's normal, honestly.",
    ),
    "ACK_feeling/pos": (
        "[happy .4] Good, I'm glad to hear it.",
        "[happy .5] Ha, that's the spirit.",
    ),
    "ACK_past": (
        "[surprised .5] {The_past}? You should have said something sooner.",
        "{The_past}. That's a long time to carry it.",
    ),
    "ACK_time": (
        "{The_time}? Okay, that's doable.",
        "[surprised .4] {The_time}? That doesn't give us long.",
    ),
    "ACK_person": (
        "Good idea. {The_person} will know what to do.",
        "{The_person}? Yes, that makes sense.",
    ),
    "ACK": ("Mm, I know what you mean.", "Fair enough.", "That makes sense."),
    # -- worries, opinions, news ----------------------------------------------------------------
    "WORRY": (
        "[fearful .5] What worries me is {concern}.",
        "[fearful .5] I keep thinking about {concern}.",
        "[fearful .4] I'm scared {concern} will make it worse.",
        "[fearful .4] You mentioned {your_concern}, and now I can't stop worrying about it.",
    ),
    "WORRY/emotional": (
        "[sad .7] I'm scared I'm going to mess it up.",
        "[fearful .7] What if {concern} makes everything worse?",
        "[sad .6] I just feel like I'm letting everyone down.",
    ),
    "WORRY/professional": (
        "[fearful .4] My worry is {concern}.",
        "[fearful .4] I'm not sure we've thought about {concern}.",
    ),
    "REASSURE": (
        "[happy .3] I don't think {the_concern} will be as bad as you think.",
        "[happy .3] We can handle {the_concern}, I promise.",
        "[happy .3] Hey, we'll figure it out together.",
        "It's going to be okay, {addr}.",
    ),
    "SHARE_WORRY": (
        "[fearful .4] Yeah, {the_concern} worries me too.",
        "[sad .4] I know. I've been losing sleep over it as well.",
    ),
    "OPINION": (
        "Honestly, I think we're overthinking this.",
        "I think it's worth doing properly.",
        "Personally, I think we should just go for it.",
        "[angry .4] To be honest, I'm tired of putting it off.",
        "I reckon it'll be fine if we plan ahead.",
    ),
    "OPINION/professional": (
        "I think we need to be realistic about the timeline.",
        "[angry .3] Frankly, we should have dealt with this weeks ago.",
    ),
    "OPINION/academic": (
        "I think the theory is the easy part; applying it is the hard bit.",
        "I think we should go back to the basics.",
    ),
    "OPINION/emotional": (
        "[sad .4] I think you're being too hard on yourself.",
        "I think it's okay not to have all the answers yet.",
        "[sad .4] You don't have to carry all of this on your own.",
    ),
    "OPINION/emotional/owner": (
        "[sad .5] I just wish I'd handled things differently.",
        "[sad .6] I think I've been pretending everything's fine.",
        "[angry .4] Honestly, I'm angry more than anything.",
    ),
    "OPINION/social": (
        "[happy .5] I think people are going to love it.",
        "[happy .3] I think smaller is better, honestly.",
    ),
    "AGREE": (
        "[happy .4] Agreed.",
        "[happy .4] That's exactly what I was thinking.",
        "[happy .3] You're right, {addr}.",
    ),
    "DISAGREE": (
        "[angry .3] I don't agree, actually.",
        "I'm not sure about that.",
        "[contempt .3] That's easy for you to say.",
        "[angry .4] Hmm, I really don't see it that way.",
    ),
    "DISAGREE_WHY": (
        "We still have to think about {concern}.",
        "[angry .3] You're forgetting about {concern}.",
    ),
    "NEWS": (
        "I talked to {person} about it, by the way.",
        "[happy .5] Oh, and {person} said they'd help.",
        "[happy .4] By the way, {person} wants to be involved.",
    ),
    "NEWS/emotional": ("[surprised .4] I found out {person} went through the same thing.",),
    "NEWS/professional": ("[surprised .4] I heard {person} had the same problem last year.",),
    "NEWS/academic": ("[surprised .4] I found out {person} struggled with the same thing.",),
    "REACT_NEWS": (
        "[happy .4] Oh, that's good to hear.",
        "[surprised .4] {The_person}? That's good to know.",
        "[happy .4] Good. {The_person} always gives good advice.",
        "[surprised .4] Really? I had no idea.",
    ),
    # -- proposals and the close ----------------------------------------------------------------
    "PROPOSE": (
        "Why don't we {idea}?",
        "What if we {idea}?",
        "How about we {idea}?",
        "I think we should {idea}.",
        "Here's an idea: let's {idea}.",
    ),
    "PROPOSE/professional": ("I suggest we {idea}.", "Can we agree to {idea}?"),
    "ACCEPT": (
        "[happy .5] That's a good idea.",
        "[happy .5] Okay, let's {the_idea}.",
        "[happy .4] Fine by me.",
        "[happy .6] Deal.",
        "[happy .5] Yes, let's do that {time}.",
        "[happy .5] {The_idea}? Yes, good idea.",
        "[happy .4] I like that. Let's {the_idea} {time}.",
    ),
    "OBJECT": (
        "[angry .3] I don't think we should {the_idea}.",
        "Hmm, I'm not sure that will help.",
        "[angry .4] No, I'd rather not {the_idea}.",
    ),
    "COUNTER": ("What if we {idea} instead?", "Could we {idea} instead?", "I'd rather we {idea}."),
    "ACCEPT_COUNTER": (
        "[happy .4] Okay, fair enough. Let's {the_idea}.",
        "[happy .3] Fine, that could work.",
        "[happy .4] Alright, you've convinced me.",
    ),
    "WRAP": ("So we'll {the_idea} and talk again {time}?", "Okay, so the plan is to {the_idea}."),
    "CONFIRM": (
        "[happy .4] Yes. Sounds like a plan.",
        "[happy .4] Exactly.",
        "[happy .3] That's it.",
        "[happy .4] {The_time} works for me.",
    ),
    "BYE": ("[happy .4] Thanks for listening, I mean it.", "[happy .4] Okay. Talk soon."),
    "BYE/elder": (
        "[happy .4] Now go and get some rest, {addr}.",
        "[happy .5] Love you, {addr}.",
        "[happy .3] Dinner's at seven, don't be late.",
    ),
    "BYE/younger": ("[happy .5] Thanks, {addr}. Love you.", "[happy .4] Okay. Thanks, {addr}."),
    "BYE/close": (
        "[happy .5] Catch you later!",
        "[happy .4] Thanks for listening, I mean it.",
        "[happy .4] Right, I owe you a coffee.",
    ),
    "BYE/intimate": ("[happy .5] Love you.", "[happy .4] Okay. Come here, you."),
    "BYE/work_peer": (
        "Thanks, {addr}. Let's catch up {time}.",
        "[happy .3] Great. I'll send you a note.",
    ),
    "BYE/boss": ("Good. Let's check in again {time}.", "[happy .3] Thanks for coming in, {addr}."),
    "BYE/staff": ("Thanks, {addr}. I'll get on it.", "[happy .3] Great, thank you."),
    "BYE/teacher": (
        "[happy .4] Good work today, {addr}.",
        "[happy .3] Come and find me if you get stuck.",
    ),
    "BYE/learner": (
        "[happy .5] Thank you so much, {addr}.",
        "[happy .4] That really helps, thanks.",
    ),
    "BYE/doctor": (
        "Take care, and call us if anything changes.",
        "[happy .3] You're doing well, {addr}. See you next time.",
    ),
    "BYE/patient": (
        "[happy .4] Thank you, {addr}.",
        "[happy .3] Thanks. That's a weight off my mind.",
    ),
    "BYE/interviewer": ("[happy .3] Thank you, we'll be in touch soon.",),
    "BYE/candidate": ("[happy .3] Thank you for your time.",),
    "BYE/service": ("[happy .4] Enjoy the rest of your day!",),
    "BYE/customer": ("[happy .4] Thanks for your help.",),
    "BYE/stranger": (
        "[happy .4] It was nice talking to you, {partner}.",
        "[happy .3] Well, good luck with everything.",
    ),
}

# Conversation details the templates introduce, per scenario family and "*" for any;
# "service", "care" and "interview" (relations with their own world) replace the family's pools.
CONCERNS = {
    "*": phrases("the cost | finding the time | how long it will take | what people will think"),
    "casual": phrases(
        "getting everyone on board | what could go wrong | the details | how it will all fit"
    ),
    "professional": phrases(
        "the deadline | the budget | what the client expects | the workload"
        " | getting sign-off in time | how the team will take it"
    ),
    "emotional": phrases(
        "what happens next | letting everyone down | not sleeping | being alone with it"
        " | saying the wrong thing | how everyone will react"
    ),
    "academic": phrases(
        "the reading list | the word count | the marking scheme | running out of time"
        " | the maths behind it | the exam format"
    ),
    "social": phrases(
        "the guest list | the food | who to invite | the noise | what people will say"
        " | keeping everyone happy | the timing"
    ),
    "service": phrases("the wait | the price | how long it took | the noise | the service tonight"),
    "care": phrases(
        "the side effects | the waiting list | the test results | how long recovery takes"
        " | the pain at night | going back to work"
    ),
    "interview": phrases(
        "the notice period | the salary range | the commute | the team structure | the start date"
    ),
}
IDEAS = {  # verb phrases that follow "let's", "why don't we", "could you", "let me"
    "*": phrases(
        "make a list | start small and see how it goes | sit down and look at it together"
        " | sleep on it | split the jobs between us | write down what we know so far"
    ),
    "casual": phrases("ask around first | set a budget | pick a date | keep it simple"),
    "professional": phrases(
        "put together a short plan | book a meeting with the team | draft a proposal"
        " | ask for an extension | run the numbers again"
    ),
    "emotional": phrases(
        "take it one day at a time | talk to someone about it | go for a walk"
        " | get some proper rest | spend the evening together | cook something together"
        " | get some fresh air | look at old photos together"
    ),
    "academic": phrases(
        "make a revision timetable | go to office hours | form a study group"
        " | start with the past papers | read the key chapters first | ask the tutor for feedback"
    ),
    "social": phrases(
        "send the invitations out | keep it small | order the food in advance | make a playlist"
        " | ask the neighbours to help | do a potluck | book the place early"
    ),
    "service": phrases(
        "bring a fresh one | take it off the bill | ask the chef to have a look"
        " | get the manager | add a free dessert"
    ),
    "care": phrases(
        "run a few more tests | try a different treatment | book a follow-up appointment"
        " | keep a diary of the symptoms | take it one step at a time"
    ),
    "interview": phrases(
        "go through the role in more detail | talk through a recent project"
        " | set up a second conversation | look at the numbers together"
    ),
}
TIMES = phrases(
    "tomorrow | on Saturday | next week | this weekend | on Friday | next month | in two weeks"
    " | at the end of the month | on Monday morning | on Thursday"
)
PASTS = phrases(
    "since last week | a few days now | ever since the weekend | for a couple of weeks"
    " | since Monday | since the start of the month"
)
# feeling → the emotion it carries
FEELINGS = {
    "*": {"a bit nervous": "fearful", "excited": "happy", "all over the place": "fearful"},
    "emotional": {
        "pretty low": "sad",
        "exhausted": "sad",
        "numb": "sad",
        "angry": "angry",
        "scared": "fearful",
    },
    "professional": {"stretched": "fearful", "cautiously optimistic": "happy"},
    "academic": {
        "overwhelmed": "fearful",
        "behind": "sad",
        "more confident than last week": "happy",
    },
    "social": {"really excited": "happy", "a little stressed": "fearful"},
    "casual": {"really good about it": "happy", "curious": "surprised"},
}

# Scenario cues: words (prefixes where they end in "*") that point to a family.
SCENARIO_CUES = {
    "professional": "work* job* office meeting* deadline* project* client* promotion raise salary "
    "interview* presentation* report* budget* contract* career resign* hire* hiring fired layoff* "
    "startup* business* shift* negotiat* pitch* quarterly strategy colleague* coworker* boss*",
    "academic": "exam* thesis lecture* research* homework study studying grade* essay* "
    "assignment* dissertation* course* class classes universit* college school semester seminar* "
    "lab experiment* physics quantum math* chemistry biology history science* theor* revision "
    "coursework tutorial* quiz* scholarship phd degree* professor* teacher* student* textbook*",
    "emotional": "loss lost death died dying funeral grie* worried worry worries anxious* scared "
    "afraid sorry apolog* breakup break-up divorc* sick ill illness hospital* diagnos* cancer "
    "lonely depress* sad crying hurt betray* regret* stress* burnout heartbr* accident* therapy "
    "miscarriage passed upset cheat* fight* argument* argue argues arguing",
    "social": "party parties wedding* dinner* neighbo* barbecue* festival* concert* birthday* "
    "anniversar* guest* invit* celebrat* reunion* housewarming picnic* potluck club gala pub "
    "restaurant* date shower",
    "casual": "trip* weekend* movie* film* weather cat cats dog* pet pets cook* recipe* game* "
    "coffee shopping music book* series show* hobby hobbies vacation* holiday* puppy kitten*",
}

# Words that end a topic noun phrase, or are not worth repeating as a topic.
STOP = words(
    """a an the this that these those my our your his her their its some any every each no
    i me we us you he him she they them it myself yourself ourselves themselves each other
    and or but nor so yet if then than because since after before while when where why how
    what which who whom whose whether though although as until unless
    about above across against along among around at behind below beside between beyond by
    during for from in inside into near of off on onto out outside over past per through to
    toward towards under up upon with within without via regarding
    is am are was were be been being have has had do does did will would shall should can
    could may might must not don't doesn't didn't won't can't isn't aren't wasn't weren't
    very really just also too quite rather still already even only finally again maybe
    two three both all one pair couple some lot lots kind sort way"""
)
FRAMING = words(
    """talk talks talking talked chat chats chatting chatted discuss discusses discussing
    discussed argue argues arguing argued debate debates debating debated converse converses
    conversing gossip gossips gossiping disagree disagrees disagreeing bicker bickers bickering
    conversation chatter catch catching tell tells telling told ask asks asking asked explain
    explains explaining explained confess confesses confessing announce announces announcing
    complain complains complaining complained warn warns warning admit admits admitting confide
    confides confiding reveal reveals revealing vent vents venting reminisce reminisces
    reminiscing joke jokes joking think thinks thinking worry worries worrying fight fights
    fighting quarrel quarrels quarrelling squabble squabbles squabbling"""
)
# Base verbs a prompt may start its topic with ("plan a trip" → "planning a trip").
VERBS = words(
    """plan organise organize prepare decide choose pick buy sell fix clean cook bake paint move
    visit learn teach study practise practice rehearse train review write read build design
    celebrate apologise apologize confess ask tell explain complain negotiate meet cancel book
    find lose break burn forget miss quit win fail pass share split adopt watch play rent
    renovate redecorate repair wash feed walk name introduce propose marry invite host throw
    surprise help convince persuade compare figure sort try get make take give bring leave start
    finish return borrow lend pay save spend deal handle manage survive face cope solve prank
    open close change redo hire fire launch pack unpack grow try"""
)
# Finite verbs that mark the prompt as a statement ("my cat ate my homework").
FINITE = words(
    """is was are were has have had got gets lost broke ate eats left died won failed passed quit
    crashed forgot found bought sold missed moved took made said went came fell ran stole
    wants needs hates loves likes can't won't didn't doesn't isn't wasn't keeps keep kept
    became becomes burned burnt cancelled canceled"""
)
ING_NOUNS = words(
    """wedding meeting morning evening building painting feeling ceiling sibling spring string
    thing king ring pudding earring lightning clothing something nothing anything everything
    during darling boxing housing funding wording offspring stocking wing sing swing"""
)
EVENT_NOUNS = words(
    """party trip wedding exam interview meeting presentation deadline dinner holiday vacation
    birthday move concert match game date appointment surgery operation funeral launch test
    audition conference festival barbecue picnic reunion ceremony graduation visit flight race
    tournament show performance shower anniversary night lunch breakfast sleepover hike
    weekend celebration recital review pitch"""
)
TIME_WORDS = (
    r"tomorrow|tonight|today|this (?:weekend|evening|afternoon|morning)|next (?:week|month|year)"
    r"|(?:on |this |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
)

# -- who speaks how: registers by role, and the acts some registers word their own way ---------
_REGISTERS = {
    "elder": "mother father parent grandmother grandfather grandparent aunt uncle stepmother "
    "stepfather stepparent mother-in-law father-in-law",
    "younger": "son daughter child grandson granddaughter grandchild niece nephew stepson "
    "stepdaughter stepchild son-in-law daughter-in-law",
    "intimate": "husband wife partner boyfriend girlfriend fiancé fiancée",
    "work_peer": "colleague",
    "boss": "manager",
    "staff": "employee intern",
    "teacher": "teacher professor coach",
    "learner": "student player",
    "doctor": "doctor nurse",
    "patient": "patient",
    "interviewer": "interviewer",
    "candidate": "candidate",
    "service": "waiter waitress",
    "customer": "customer",
    "stranger": "stranger",
}
REGISTER_OF = {r: reg for reg, roles in _REGISTERS.items() for r in roles.split()}
REGISTER_OF["shop assistant"] = "service"
UPPER = words("elder teacher boss doctor interviewer")  # they raise the other one's matter
# registers whose own templates (where an act has them) replace the shared ones
EXCLUSIVE = words("teacher boss doctor interviewer service customer stranger patient candidate")
# acts the emotional family words only its own way
FAMILY_ONLY = {
    (act, "emotional") for act in words("ASK_OPINION ANS_OPINION OPINION REACT ANS_NEED ASK_FEEL")
}
DOMAINS = {"service": "service", "customer": "service", "doctor": "care", "patient": "care"}
DOMAINS |= {"interviewer": "interview", "candidate": "interview"}
OPENING = words("GREET GREET_BACK WHATSUP CHECK INTRO INTRO_BACK")
RESPONSES = {  # the act that answers each act (WORRY and OPINION get one of two)
    "RAISE": ["REACT"],
    "ASK_OPINION": ["ANS_OPINION"],
    "ASK_FEEL": ["ANS_FEEL"],
    "ASK_SINCE": ["ANS_SINCE"],
    "ASK_WHEN": ["ANS_WHEN"],
    "ASK_NEED": ["ANS_NEED"],
    "NEWS": ["REACT_NEWS"],
    "PROPOSE": ["ACCEPT"],
    "PROPOSE_X": ["OBJECT"],
    "COUNTER": ["ACCEPT_COUNTER"],
    "WRAP": ["CONFIRM"],
    "HOLD": ["ACK"],
}
ENVIRONMENT_OPTIONS = {
    "social": ("cafe", "open_space", "living_room"),
    "emotional": ("living_room", "cafe", "open_space", "car"),
    "professional": ("office", "cafe"),
    "academic": ("living_room", "cafe", "classroom"),
    "casual": ("cafe", "open_space", "living_room", "car"),
}
# what a prompt that names no topic is about
FALLBACK_TOPICS = {
    "casual": "plans for the weekend",
    "professional": "the new project",
    "emotional": "the last few weeks",
    "academic": "the exams next month",
    "social": "the party on Saturday",
}

# -- the topic reader's small word lists -------------------------------------------------------
FAMILY_NAMES = words("grandma grandpa granny gran nana mum mom dad grandad")  # "for Grandma"
PRONOUN_SUBJECTS = words("i we he she they it you them")
CONJ = words("after because since when while as although though once")
LEAD_PREP = words("on in at during for inside aboard near with to")
SKIP_AFTER_FRAME = words("to with up on about over regarding that")
SUBJECT_WORDS = words("a an the two my her his their our and young old elderly teenage little")
SUBJECT_WORDS |= words("new best pair of couple")
COPULAS = words("is was are were be been seems feels looks got became")
SINGULAR_FINITE = words("is was has had got just keeps wants isn't wasn't")
PEOPLE = words("woman man girl boy lady guy people women men")
UNIVERSITY = words("thesis dissertation phd university college degree lecture")
