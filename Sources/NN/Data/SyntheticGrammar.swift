import Tensor

/// The grammar of ``SyntheticCorpus``, as recursive-descent generation: each method writes one
/// kind of phrase and passes down what agreement needs (number, person, tense, semantic kind).
struct SyntheticGrammar {
    typealias L = SyntheticLexicon

    enum Tense { case present, past, future }

    /// A noun phrase and what agreement needs to know about it.
    struct Phrase {
        var text: String
        var plural: Bool
        /// 1, 2 or 3, for pronouns' agreement ("I am", "you are", "she is").
        var person: Int
        var kind: L.Kind

        var isThirdSingular: Bool { person == 3 && !plural }
    }

    private var rng: RNG

    init(seed: UInt64) { rng = RNG(seed: seed, stream: 0xC0B9_5E) }

    mutating func paragraphLength() -> Int { 3 + rng.below(6) }

    mutating func sentence() -> String {
        switch rng.weighted([45, 12, 6, 10, 6, 8, 7, 3, 3]) {
        case 0: return capitalized(clause(tense: tense(), withTime: rng.chance(0.3))) + "."
        case 1: return capitalized(compound()) + "."
        case 2: return capitalized(whenClause()) + "."
        case 3: return capitalized(copula()) + "."
        case 4: return capitalized(thereIs()) + "."
        case 5: return question()
        case 6: return dialogue()
        case 7: return giving()
        default: return exclamation()
        }
    }

    // MARK: Sentences

    private mutating func tense() -> Tense {
        [Tense.present, .past, .future][rng.weighted([4, 4, 1.5])]
    }

    private mutating func timePhrase(_ tense: Tense) -> String {
        switch tense {
        case .present: return rng.uniform(L.presentTimes)
        case .past: return rng.uniform(L.pastTimes)
        case .future: return rng.uniform(L.futureTimes)
        }
    }

    /// Subject, verb phrase, optional object, place, manner and time.
    private mutating func clause(tense: Tense, withTime: Bool) -> String {
        let subject = nounPhrase(kinds: [.person, .person, .animal], role: .subject)
        let verbs = subject.kind == .animal ? L.animalVerbs : L.personVerbs
        let verb = rng.skewed(verbs)
        var words = [subject.text, verbPhrase(verb, subject: subject, tense: tense)]
        if let objects = verb.objects {
            words.append(nounPhrase(kinds: objects, role: .object).text)
        }
        if rng.chance(0.3) { words.append(placePhrase()) }
        if rng.chance(0.2) { words.append(rng.skewed(L.mannerAdverbs)) }
        var text = words.joined(separator: " ")
        if withTime {
            let time = timePhrase(tense)
            text = rng.chance(0.5) ? time + ", " + text : text + " " + time
        }
        return text
    }

    private mutating func compound() -> String {
        let tense = tense()
        let first = clause(tense: tense, withTime: false)
        let joiner = rng.uniform([", and ", ", but ", " because ", ", so ", " while "])
        return first + joiner + clause(tense: tense, withTime: false)
    }

    private mutating func whenClause() -> String {
        let tense: Tense = rng.chance(0.6) ? .past : .present
        let condition = clause(tense: tense, withTime: false)
        return rng.uniform(["when ", "after ", "before ", "if "]) + condition + ", " + clause(tense: tense, withTime: false)
    }

    /// "The old king is tired." / "The dogs were in the garden."
    private mutating func copula() -> String {
        let subject = nounPhrase(kinds: [.person, .animal, .thing], role: .subject)
        let past = rng.chance(0.5)
        let complement: String
        if rng.chance(0.6) {
            let adjectives = subject.kind == .thing ? L.thingAdjectives : L.livingAdjectives
            complement = (rng.chance(0.2) ? "very " : "") + rng.skewed(adjectives)
        } else {
            complement = placePhrase()
        }
        return subject.text + " " + be(subject, past: past) + " " + complement
    }

    /// "There were three wolves near the river."
    private mutating func thereIs() -> String {
        let phrase = nounPhrase(kinds: [.person, .animal, .thing], role: .object, indefinite: true)
        return "there " + be(phrase, past: rng.chance(0.5)) + " " + phrase.text + " " + placePhrase()
    }

    private mutating func question() -> String {
        let subject = nounPhrase(kinds: [.person, .person, .animal], role: .subject)
        switch rng.below(3) {
        case 0:
            return capitalized("where " + be(subject, past: rng.chance(0.5)) + " " + subject.text) + "?"
        default:
            let verb = rng.skewed(subject.kind == .animal ? L.animalVerbs : L.personVerbs)
            let auxiliary = rng.chance(0.5) ? "did" : (subject.isThirdSingular ? "does" : "do")
            var words = [rng.chance(0.3) ? "why " + auxiliary : auxiliary, subject.text, verb.base]
            if let objects = verb.objects { words.append(nounPhrase(kinds: objects, role: .object).text) }
            return capitalized(words.joined(separator: " ")) + "?"
        }
    }

    /// "\"Come here,\" said the old king."
    private mutating func dialogue() -> String {
        let speaker = nounPhrase(kinds: [.person], role: .subject, allowPronoun: false)
        let line = capitalized(rng.skewed(L.commands))
        let mark = rng.chance(0.8) ? "," : "!"
        return "\"" + line + mark + "\" " + rng.skewed(L.speechVerbs) + " " + speaker.text + "."
    }

    /// "Anna gave the red apple to the children."
    private mutating func giving() -> String {
        let subject = nounPhrase(kinds: [.person], role: .subject)
        let verb = rng.uniform(L.givingVerbs)
        let thing = nounPhrase(kinds: [.thing], role: .object)
        let receiver = nounPhrase(kinds: [.person], role: .object)
        return capitalized([subject.text, verbPhrase(verb, subject: subject, tense: tense()),
                            thing.text, "to", receiver.text].joined(separator: " ")) + "."
    }

    private mutating func exclamation() -> String {
        let noun = rng.skewed(L.things)
        let adjective = rng.skewed(L.thingAdjectives)
        if rng.chance(0.5) {
            return "What " + article(before: adjective) + " " + adjective + " " + noun.singular + "!"
        }
        return "How " + adjective + " the " + noun.singular + " is!"
    }

    // MARK: Phrases

    enum Role { case subject, object }

    /// A noun phrase of one of `kinds` (repeat a kind to make it likelier): a pronoun, a name, or
    /// determiner + adjectives + noun, sometimes with a relative clause.
    private mutating func nounPhrase(kinds: [L.Kind], role: Role, allowPronoun: Bool = true,
                                     indefinite: Bool = false) -> Phrase {
        let kind = rng.uniform(kinds)
        if kind == .person, !indefinite {
            if allowPronoun, rng.chance(0.2) { return pronoun(role: role) }
            if rng.chance(0.15) { return Phrase(text: rng.skewed(L.names), plural: false, person: 3, kind: .person) }
        }
        let noun: L.Noun
        switch kind {
        case .person: noun = rng.skewed(L.people)
        case .animal: noun = rng.skewed(L.animals)
        case .thing: noun = rng.skewed(L.things)
        }
        let plural = rng.chance(0.3)
        var words: [String] = []
        let adjectives = kind == .thing ? L.thingAdjectives : L.livingAdjectives
        let adjectiveCount = rng.weighted([6, 3, 1])
        while words.count < adjectiveCount {
            let adjective = rng.skewed(adjectives)
            if !words.contains(adjective) { words.append(adjective) }
        }
        words.append(plural ? noun.plural : noun.singular)
        words.insert(determiner(plural: plural, indefinite: indefinite, before: words[0]), at: 0)
        if !indefinite, rng.chance(0.08) {
            words.append(relativeClause(kind: kind, plural: plural))
        }
        return Phrase(text: words.joined(separator: " "), plural: plural, person: 3, kind: kind)
    }

    private mutating func determiner(plural: Bool, indefinite: Bool, before word: String) -> String {
        if plural {
            let options = indefinite
                ? ["some", "many", "two", "three", "four", "five", "six", "ten", "twelve", "a few", "no"]
                : ["the", "the", "the", "these", "those", "some", "many", "my", "our", "their", "two", "three", "all the"]
            return rng.skewed(options)
        }
        if indefinite || rng.chance(0.3) { return article(before: word) }
        return rng.skewed(["the", "the", "the", "this", "that", "my", "his", "her", "every", "our", "their", "one"])
    }

    /// "a" or "an", by the sound of the next word's first letter.
    private func article(before word: String) -> String {
        guard let first = word.first else { return "a" }
        // "honest" starts with a silent h: the one exception in this lexicon.
        return "aeiou".contains(first) || word == "honest" ? "an" : "a"
    }

    /// "who/that" + a present or past verb agreeing with the head ("the dogs that chase the cat"),
    /// or for things a clause about who acted on them ("the book that the poet wrote").
    private mutating func relativeClause(kind: L.Kind, plural: Bool) -> String {
        if kind == .thing {
            let verb = rng.skewed(L.personVerbs.filter { $0.objects?.contains(.thing) == true })
            return "that the " + rng.skewed(L.people).singular + " " + verb.past
        }
        let verb = rng.skewed(kind == .animal ? L.animalVerbs : L.personVerbs)
        let relative = kind == .person ? "who" : "that"
        let form = rng.chance(0.5) ? verb.past : (plural ? verb.base : verb.thirdPerson)
        var text = relative + " " + form
        if let objects = verb.objects {
            // A plain object: a relative clause inside a relative clause would rarely end.
            let kind = rng.uniform(objects)
            let noun = rng.skewed(kind == .person ? L.people : kind == .animal ? L.animals : L.things)
            text += " the " + noun.singular
        }
        return text
    }

    private mutating func pronoun(role: Role) -> Phrase {
        // (subject, object, person, plural)
        let pronouns: [(String, String, Int, Bool)] = [
            ("I", "me", 1, false), ("you", "you", 2, false), ("he", "him", 3, false),
            ("she", "her", 3, false), ("we", "us", 1, true), ("they", "them", 3, true),
        ]
        let p = rng.uniform(pronouns)
        return Phrase(text: role == .subject ? p.0 : p.1, plural: p.3, person: p.2, kind: .person)
    }

    private mutating func placePhrase() -> String {
        let place = rng.skewed(L.places)
        let adjective = rng.chance(0.2) ? rng.skewed(L.thingAdjectives) + " " : ""
        return rng.skewed(L.prepositions) + " the " + adjective + place
    }

    /// The verb inflected for `subject` and `tense`, sometimes negated, with a modal or a
    /// frequency adverb.
    private mutating func verbPhrase(_ verb: L.Verb, subject: Phrase, tense: Tense) -> String {
        let negated = rng.chance(0.12)
        switch tense {
        case .future:
            return negated ? "will not " + verb.base : "will " + verb.base
        case .past:
            if negated { return "did not " + verb.base }
            return frequency() + verb.past
        case .present:
            if negated { return (subject.isThirdSingular ? "does not " : "do not ") + verb.base }
            if rng.chance(0.1) { return rng.uniform(["can", "must", "should", "may"]) + " " + verb.base }
            return frequency() + (subject.isThirdSingular ? verb.thirdPerson : verb.base)
        }
    }

    private mutating func frequency() -> String {
        rng.chance(0.12) ? rng.uniform(L.frequencyAdverbs) + " " : ""
    }

    /// "am/is/are" or "was/were", agreeing with `subject`.
    private func be(_ subject: Phrase, past: Bool) -> String {
        let singular = !subject.plural && subject.person != 2
        if past { return singular ? "was" : "were" }
        if subject.person == 1 && !subject.plural { return "am" }
        return singular ? "is" : "are"
    }

    private func capitalized(_ text: String) -> String {
        text.prefix(1).uppercased() + text.dropFirst()
    }
}
