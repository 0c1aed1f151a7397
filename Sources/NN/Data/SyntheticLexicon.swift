/// The vocabulary of the synthetic corpus: a few hundred English words with their inflections and
/// the semantic classes that the grammar respects (people and animals act; things are acted on).
enum SyntheticLexicon {
    enum Kind { case person, animal, thing }

    struct Noun {
        let singular: String
        let plural: String
        let kind: Kind
    }

    struct Verb {
        let base: String
        let thirdPerson: String
        let past: String
        /// What the object may be; nil for an intransitive verb.
        let objects: [Kind]?
    }

    // MARK: Nouns

    private static func nouns(_ kind: Kind, _ words: [String]) -> [Noun] {
        words.map { word in
            // "man/men" lists an irregular plural; other words get the regular one.
            let parts = word.split(separator: "/").map(String.init)
            return Noun(singular: parts[0], plural: parts.count > 1 ? parts[1] : regularPlural(parts[0]), kind: kind)
        }
    }

    private static func regularPlural(_ word: String) -> String {
        if ["s", "sh", "ch", "x"].contains(where: word.hasSuffix) { return word + "es" }
        if word.hasSuffix("y"), let before = word.dropLast().last, !"aeiou".contains(before) {
            return word.dropLast() + "ies"
        }
        return word + "s"
    }

    static let people = nouns(.person, [
        "king", "queen", "farmer", "child/children", "woman/women", "man/men", "teacher", "doctor",
        "sailor", "baker", "soldier", "merchant", "student", "poet", "painter", "priest", "knight",
        "princess", "shepherd", "fisherman/fishermen", "neighbour", "stranger", "friend", "servant",
        "hunter", "boy", "girl", "miller", "traveller", "captain", "widow", "carpenter", "singer",
        "judge", "guard", "cook", "gardener", "prince", "duke", "monk",
    ])

    static let animals = nouns(.animal, [
        "dog", "cat", "horse", "bird", "fox", "wolf/wolves", "sheep/sheep", "mouse/mice",
        "goose/geese", "owl", "bear", "rabbit", "deer/deer", "fish/fish", "cow", "goat", "lion",
        "crow", "donkey", "duck", "frog", "swan", "pig", "hen",
    ])

    static let things = nouns(.thing, [
        "book", "letter", "apple", "stone", "river", "tree", "door", "window", "song", "story",
        "loaf/loaves", "cup", "ship", "road", "bridge", "garden", "house", "tower", "lamp", "key",
        "coin", "box", "basket", "sword", "ring", "map", "boat", "wheel", "candle", "field", "hill",
        "knife/knives", "leaf/leaves", "shelf/shelves", "flower", "bell", "coat", "hat", "chair",
        "table", "bottle", "feather", "rope", "blanket", "mirror", "clock", "drum", "painting",
        "cake", "egg",
    ])

    static let names = [
        "Anna", "Thomas", "Maria", "John", "Elena", "Peter", "Sofia", "David", "Clara", "Henry",
        "Lucy", "Oliver", "Grace", "Samuel", "Alice", "Martin", "Rose", "Daniel", "Emma", "Hugo",
    ]

    /// Where things happen: "in the garden", "near the old mill".
    static let places = [
        "garden", "market", "forest", "village", "castle", "kitchen", "harbour", "meadow", "church",
        "mill", "tavern", "valley", "orchard", "library", "square", "stable", "courtyard", "cellar",
    ]

    static let prepositions = [
        "in", "near", "behind", "beside", "outside", "across", "through", "around", "above", "below",
    ]

    // MARK: Adjectives and adverbs

    /// Adjectives that suit people and animals.
    static let livingAdjectives = [
        "old", "young", "brave", "clever", "tired", "happy", "gentle", "angry", "kind", "proud",
        "hungry", "wise", "honest", "careful", "humble", "lonely", "sleepy", "cheerful", "foolish",
        "patient", "curious", "nervous", "polite", "lazy", "strong", "weak", "quiet", "noisy",
    ]

    /// Adjectives that suit things.
    static let thingAdjectives = [
        "old", "small", "large", "heavy", "broken", "ancient", "narrow", "wide", "empty", "golden",
        "wooden", "silver", "bright", "dark", "cold", "warm", "green", "red", "blue", "white",
        "black", "strange", "beautiful", "famous", "tiny", "huge", "clean", "dirty", "sharp", "soft",
    ]

    /// Adverbs of manner, placed after the verb phrase.
    static let mannerAdverbs = [
        "slowly", "quickly", "quietly", "carefully", "happily", "suddenly", "gently", "loudly",
        "badly", "well", "again", "together", "alone", "secretly", "proudly", "politely",
    ]

    /// Adverbs of frequency, placed before a present or past verb.
    static let frequencyAdverbs = ["often", "always", "never", "sometimes", "rarely", "usually"]

    /// Time phrases that agree with the tense of their sentence.
    static let pastTimes = ["yesterday", "last night", "long ago", "last winter", "this morning", "once"]
    static let presentTimes = ["every day", "every morning", "now", "on Sundays", "each evening", "today"]
    static let futureTimes = ["tomorrow", "next week", "soon", "tonight", "next spring", "one day"]

    // MARK: Verbs

    private static func verb(_ base: String, past: String? = nil, objects: [Kind]? = nil) -> Verb {
        Verb(base: base, thirdPerson: thirdPerson(base), past: past ?? regularPast(base), objects: objects)
    }

    private static func thirdPerson(_ base: String) -> String {
        if ["s", "sh", "ch", "x", "o"].contains(where: base.hasSuffix) { return base + "es" }
        if base.hasSuffix("y"), let before = base.dropLast().last, !"aeiou".contains(before) {
            return base.dropLast() + "ies"
        }
        return base + "s"
    }

    private static func regularPast(_ base: String) -> String {
        if base.hasSuffix("e") { return base + "d" }
        if base.hasSuffix("y"), let before = base.dropLast().last, !"aeiou".contains(before) {
            return base.dropLast() + "ied"
        }
        return base + "ed"
    }

    private static let anything: [Kind] = [.person, .animal, .thing]
    private static let living: [Kind] = [.person, .animal]

    /// Verbs whose subject is a person.
    static let personVerbs: [Verb] = [
        verb("see", past: "saw", objects: anything), verb("find", past: "found", objects: anything),
        verb("carry", objects: [.animal, .thing]), verb("watch", objects: anything),
        verb("follow", objects: anything), verb("love", objects: anything),
        verb("take", past: "took", objects: [.animal, .thing]), verb("bring", past: "brought", objects: [.animal, .thing]),
        verb("hold", past: "held", objects: [.animal, .thing]), verb("make", past: "made", objects: [.thing]),
        verb("build", past: "built", objects: [.thing]), verb("paint", objects: anything),
        verb("open", objects: [.thing]), verb("sell", past: "sold", objects: [.animal, .thing]),
        verb("buy", past: "bought", objects: [.animal, .thing]), verb("want", objects: [.animal, .thing]),
        verb("remember", objects: anything), verb("forget", past: "forgot", objects: anything),
        verb("help", objects: living), verb("meet", past: "met", objects: living),
        verb("feed", past: "fed", objects: living), verb("teach", past: "taught", objects: [.person]),
        verb("hide", past: "hid", objects: [.animal, .thing]), verb("keep", past: "kept", objects: [.animal, .thing]),
        verb("lose", past: "lost", objects: [.animal, .thing]), verb("break", past: "broke", objects: [.thing]),
        verb("mend", objects: [.thing]), verb("clean", objects: [.thing]),
        verb("steal", past: "stole", objects: [.animal, .thing]), verb("visit", objects: [.person]),
        verb("thank", objects: [.person]), verb("call", objects: living),
        verb("read", past: "read", objects: [.thing]), verb("write", past: "wrote", objects: [.thing]),
        verb("sing", past: "sang"), verb("laugh"), verb("work"), verb("pray"), verb("travel"),
        verb("wait"), verb("smile"), verb("dance"), verb("cry"), verb("whisper"), verb("listen"),
    ]

    /// Verbs whose subject is an animal.
    static let animalVerbs: [Verb] = [
        verb("chase", objects: living), verb("watch", objects: anything), verb("follow", objects: living),
        verb("bite", past: "bit", objects: living), verb("find", past: "found", objects: anything),
        verb("eat", past: "ate", objects: [.thing]), verb("fear", objects: living),
        verb("sleep", past: "slept"), verb("run", past: "ran"), verb("swim", past: "swam"),
        verb("hide", past: "hid"), verb("bark"), verb("howl"), verb("jump"), verb("rest"),
        verb("wander"), verb("fly", past: "flew"),
    ]

    /// Verbs that take a thing and give it to someone: "gives the cup to the child".
    static let givingVerbs: [Verb] = [
        verb("give", past: "gave"), verb("send", past: "sent"), verb("show"), verb("offer"),
        verb("lend", past: "lent"), verb("sell", past: "sold"),
    ]

    /// Imperatives for dialogue lines.
    static let commands = [
        "come here", "look at this", "wait for me", "open the door", "listen to me", "sit down",
        "be careful", "follow me", "close the window", "run home", "bring the lamp", "stay here",
    ]

    static let speechVerbs = ["said", "asked", "cried", "whispered", "shouted", "answered"]
}
