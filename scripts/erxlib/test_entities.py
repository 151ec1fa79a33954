"""The Rust unit tests of src/document.rs (name_parts, same_entity, assemble's grouping),
run against the Python copy, so the two stay in step."""
import unittest

from entities import group_mentions, name_parts, one_per_entity_pair, same_entity


class NamePartsTest(unittest.TestCase):
    def test_normalise(self):
        self.assertEqual(name_parts("the U.S. State Department"), ["us", "state", "department"])
        self.assertEqual(name_parts("Kim Jong-nam's"), ["kim", "jong", "nam"])
        self.assertEqual(name_parts("The"), ["the"])


class SameEntityTest(unittest.TestCase):
    def test_people_merge_on_name_parts(self):
        self.assertTrue(same_entity("PER", name_parts("Choe"), [name_parts("Choe Son Hui")]))
        self.assertTrue(same_entity("PER", name_parts("Donald Trump"), [name_parts("Trump")]))
        self.assertFalse(same_entity("PER", name_parts("Kim Jong-un"), [name_parts("Kim Jong-nam")]))

    def test_organisations_merge_on_shared_tail_or_acronym(self):
        self.assertTrue(same_entity("ORG", name_parts("US State Department"), [name_parts("the State Department")]))
        self.assertTrue(same_entity("ORG", name_parts("UN"), [name_parts("United Nations")]))
        self.assertTrue(same_entity("ORG", name_parts("Toyota"), [name_parts("Toyota Motor Corp.")]))
        self.assertFalse(same_entity("ORG", name_parts("Toyota Motor"), [name_parts("Toyota Tsusho")]))
        self.assertFalse(same_entity("LOC", name_parts("South Korea"), [name_parts("North Korea")]))
        self.assertFalse(same_entity("LOC", name_parts("Korea"), [name_parts("North Korea")]))


class GroupingTest(unittest.TestCase):
    def test_mentions_join_the_latest_matching_entity_of_their_label(self):
        got = group_mentions([("Choe Son Hui", "PER"), ("Kim Jong-nam", "PER"), ("Choe", "PER"),
                              ("Choe", "ORG"), ("United Nations", "ORG"), ("UN", "ORG")])
        self.assertEqual(got, [0, 1, 0, 2, 3, 3])

    def test_one_relation_per_entity_pair_and_none_inside_one(self):
        entity_of = [0, 1, 0, 2]
        rels = [(0, 1, "works_for", 0.6), (2, 1, "affiliation", 0.8), (0, 2, "met", 0.9), (1, 3, "based_in", 0.7)]
        self.assertEqual(one_per_entity_pair(rels, entity_of),
                         [(2, 1, "affiliation", 0.8), (1, 3, "based_in", 0.7)])


if __name__ == "__main__":
    unittest.main()
