"""The hand-written texts of the ``household`` evaluation set (see scripts/make_household_set.py).

Written for this project: an invented help desk for a home, in six areas of five questions each.
Each topic is one query with the passages judged for it: ``answers`` (grade 2: the passage
answers the question, mostly in other words than the query's), ``related`` (grade 1: on the
subject, no answer) and ``decoys`` (grade 0: they share the query's words but are about something
else, so that a word-counting retriever ranks them high).
"""

from __future__ import annotations

from typing import TypedDict


class Topic(TypedDict):
    query: str
    answers: list[str]
    related: list[str]
    decoys: list[str]


TOPICS: list[Topic] = [
    # -- bicycles ---------------------------------------------------------------------------
    {
        "query": "why does my bike chain squeak",
        "answers": [
            "A dry drivetrain is the usual culprit: once the links lose their lubricant, metal rubs on metal and every pedal stroke makes a high chirp. Wipe it clean and apply a few drops of oil to each roller.",
            "Noise from the links while pedalling mostly means they need oiling; rain washes the lube away, so riders in wet weather should re-oil every week or two.",
        ],
        "related": [
            "Chains stretch as they wear. A checker tool tells you when the links have lengthened by half a percent and the part should be replaced before it ruins the cassette.",
        ],
        "decoys": [
            "My bike shop sells chain locks in three lengths; the longest wraps around a lamp post and the frame together.",
            "Why does a door squeak? The hinge pin has dried out; lift it out, grease it and tap it back in.",
        ],
    },
    {
        "query": "how often should I pump up bicycle tyres",
        "answers": [
            "Inner tubes lose air slowly through the rubber itself, so check the pressure with a gauge about once a week; thin road tubes can drop a fifth of their pressure in a few days.",
            "Top up the air before every longer ride: a quick squeeze is not enough, use a track pump with a dial and fill to the range printed on the sidewall.",
        ],
        "related": [
            "Wider tyres run at lower pressure than narrow racing ones, which gives more grip on gravel and a softer ride on broken asphalt.",
        ],
        "decoys": [
            "The garden pump should be drained before the first frost so that the water inside cannot freeze and crack it.",
            "How often should I replace my bicycle helmet? Makers advise every five years, or at once after any crash.",
        ],
    },
    {
        "query": "brakes rubbing on the wheel",
        "answers": [
            "When a pad drags against the rim, the wheel is often sitting crooked in the dropouts: open the quick release, let the wheel centre itself and close it again.",
            "A rotor that touches the caliper can be trued by hand; find the spot that scrapes as you spin it and bend it back gently with an adjustable spanner.",
        ],
        "related": [
            "Disc pads come in resin and sintered metal compounds; resin is quieter, metal lasts longer in mud.",
        ],
        "decoys": [
            "Rubbing alcohol removes the sticky residue that old tape leaves on a wheel of a suitcase.",
            "The car brakes were checked at the last service and the front discs were within their limits.",
        ],
    },
    {
        "query": "best way to store a bike over winter",
        "answers": [
            "Before the cold months, clean the frame, oil the moving parts and keep the cycle somewhere dry such as a shed or hallway, hung on a wall hook so the tyres carry no weight.",
            "For a long break from riding, slightly deflate the tyres, take the battery off an electric model and keep it indoors at room temperature.",
        ],
        "related": [
            "Winter riding on salted roads corrodes chains quickly, so some people keep an old single-speed for the snowy season.",
        ],
        "decoys": [
            "The best way to store winter coats is in breathable cotton bags with a sachet of cedar against moths.",
            "Our store stays open over the winter holidays except on the first of January.",
        ],
    },
    {
        "query": "gears skipping when pedalling hard",
        "answers": [
            "If the drive slips under load, the cable tension is usually off: turn the barrel adjuster on the rear derailleur a quarter turn at a time until the shift is crisp.",
            "A worn cassette lets a new chain jump over its teeth when you stand on the pedals; the cogs you use most wear first and need replacing together with the chain.",
        ],
        "related": [
            "Indexed shifters click once for each sprocket, while friction shifters let the rider find the position by feel.",
        ],
        "decoys": [
            "Hard pedalling up the hill to the reservoir takes about twenty minutes from the village green.",
            "Skipping breakfast before a long ride often leads to a sudden loss of energy halfway.",
        ],
    },
    # -- garden -----------------------------------------------------------------------------
    {
        "query": "when to prune apple trees",
        "answers": [
            "Fruit trees such as apples are cut back in late winter, while they are dormant and before the buds swell; open the centre and remove crossing branches.",
            "A light summer trim of the current year's growth keeps an apple cordon compact; do the main structural cutting when the leaves are off.",
        ],
        "related": [
            "Apple scab shows as dark, velvety spots on leaves and fruit, and thrives in wet springs.",
        ],
        "decoys": [
            "Apple pie tastes best when the trees in the orchard have given sharp, firm cooking apples.",
            "When to prune roses depends on the type: ramblers right after flowering, bush roses in early spring.",
        ],
    },
    {
        "query": "tomato leaves turning yellow",
        "answers": [
            "Lower foliage that goes pale on tomato plants often means a lack of nitrogen or magnesium; feed with a balanced fertiliser and a spoon of Epsom salts in the watering can.",
            "Overwatering drowns the roots, and the oldest leaves fade first; let the top of the soil dry before giving more water.",
        ],
        "related": [
            "Pinching out side shoots on cordon tomatoes sends the plant's energy into the fruit trusses.",
        ],
        "decoys": [
            "Yellow leaves turning in autumn make the maples along the avenue worth a visit in October.",
            "Green tomato chutney uses up fruit that will not ripen before the frost.",
        ],
    },
    {
        "query": "how to get rid of slugs without chemicals",
        "answers": [
            "A ring of copper tape around pots, beer traps sunk into the soil and an evening torchlight collection keep slimy pests off lettuces with no poison at all.",
            "Encourage frogs, hedgehogs and thrushes, which feed on molluscs, and water in the morning so the beds are dry by nightfall when the pests come out.",
        ],
        "related": [
            "Slug pellets containing metaldehyde were withdrawn in several countries because they harmed birds and pets.",
        ],
        "decoys": [
            "How to get rid of chemicals safely: take old paint and solvents to the council's hazardous waste day.",
            "Without slugs to break down dead leaves, a compost heap works more slowly.",
        ],
    },
    {
        "query": "watering a lawn in a heatwave",
        "answers": [
            "During hot, dry spells give turf a deep soak once or twice a week early in the morning rather than a daily sprinkle, so the roots grow down to moister soil.",
            "Grass that goes brown in a drought is dormant, not dead; it recovers after rain, so many gardeners simply let it rest and raise the mower blades.",
        ],
        "related": [
            "Clover in a lawn stays green through dry summers and feeds the soil with nitrogen.",
        ],
        "decoys": [
            "The heatwave warning advises watering plants on balconies and checking on elderly neighbours.",
            "A lawn mower with a blunt blade tears the grass and leaves ragged, brown tips.",
        ],
    },
    {
        "query": "starting a compost heap",
        "answers": [
            "Mix green waste such as vegetable peelings and grass clippings with brown material like cardboard and dry leaves in roughly equal parts, keep it damp and turn it every few weeks.",
            "Choose a shady corner on bare earth so worms can move in, build the pile at least a metre across and it will heat up and break down within months.",
        ],
        "related": [
            "Finished compost is dark and crumbly and smells of a forest floor; it can be dug into beds in spring.",
        ],
        "decoys": [
            "Starting a car with a flat battery needs jump leads and a second vehicle.",
            "The heap of old bricks behind the garage is starting to attract rats.",
        ],
    },
    # -- kitchen ----------------------------------------------------------------------------
    {
        "query": "how long to boil an egg for a runny yolk",
        "answers": [
            "Lower the eggs into water already at a rolling boil and give them six minutes for a soft, golden centre with set whites; seven if they are large.",
            "For dippy eggs, simmer for about five to six minutes, then run them under cold water for a moment so they stop cooking.",
        ],
        "related": [
            "Very fresh eggs are harder to peel than ones a week old, because the membrane clings to the shell.",
        ],
        "decoys": [
            "Boil the kettle for tea while the toast is under the grill.",
            "How long an egg keeps in the fridge: about three weeks past the packing date.",
        ],
    },
    {
        "query": "bread dough not rising",
        "answers": [
            "Yeast that is old or was killed by hot water will not make a loaf puff up; test it in warm water with a pinch of sugar, and it should foam within ten minutes.",
            "A cold kitchen slows the proof a lot; put the bowl near a radiator or in the oven with only the light on and give it more time.",
        ],
        "related": [
            "Strong flour has more protein than plain flour, which builds the gluten that traps the gas.",
        ],
        "decoys": [
            "The rising cost of bread has made home baking popular again.",
            "Pizza dough can be frozen in portions and thawed overnight in the fridge.",
        ],
    },
    {
        "query": "remove burnt food from a pan",
        "answers": [
            "Cover the scorched bottom with water, add a spoon of baking soda, bring it to the boil and let it cool; the charred layer then lifts off with a wooden spatula.",
            "Soak the pot overnight with a dishwasher tablet dissolved in hot water and the blackened residue wipes away in the morning.",
        ],
        "related": [
            "Cast iron should never soak for long; dry it on the hob and rub in a little oil to keep the seasoning.",
        ],
        "decoys": [
            "Remove the pan from the heat as soon as the garlic turns golden or it will taste bitter.",
            "Burnt toast smells stronger than it tastes; scrape it over the sink.",
        ],
    },
    {
        "query": "can I freeze cooked rice",
        "answers": [
            "Leftover rice freezes well: cool it within an hour, pack it flat in bags and use it within a month, reheating it until it is steaming hot all the way through.",
            "Yes, portion steamed rice into containers as soon as it stops steaming and freeze; it should not sit at room temperature for long because of bacteria that survive cooking.",
        ],
        "related": [
            "Brown rice takes twice as long to cook as white rice and needs a little more water.",
        ],
        "decoys": [
            "Can I freeze milk? It separates a little when thawed, so shake it before use.",
            "The cooked breakfast at the cafe comes with rice and beans on Sundays.",
        ],
    },
    {
        "query": "knife keeps getting dull quickly",
        "answers": [
            "Cutting on glass, stone or ceramic boards wears an edge down fast; a wooden or plastic board keeps a blade sharp much longer.",
            "The dishwasher's heat and rattling blunt a cook's blade; wash it by hand and hone it on a steel before each use to straighten the edge.",
        ],
        "related": [
            "Carbon steel blades take a keener edge than stainless ones but rust if left wet.",
        ],
        "decoys": [
            "The butter knife keeps getting lost in the picnic basket.",
            "Dull, grey skies are forecast for the rest of the week.",
        ],
    },
    # -- home repair ------------------------------------------------------------------------
    {
        "query": "dripping tap in the bathroom",
        "answers": [
            "A basin faucet that leaks after being turned off usually has a worn washer or cartridge; shut off the water under the sink, unscrew the head and replace the rubber seal.",
            "Ceramic disc valves do not use washers; if one keeps leaking, the whole cartridge needs swapping for one of the same size.",
        ],
        "related": [
            "Limescale builds up in hard water areas and can be dissolved from shower heads with vinegar.",
        ],
        "decoys": [
            "Bathroom tiles look new again after the grout is scrubbed with a stiff brush.",
            "The tap room of the old pub serves local ales from the cask.",
        ],
    },
    {
        "query": "filling a hole in plasterboard",
        "answers": [
            "Small dents in drywall take a ready-mixed filler pressed in with a flexible knife, left to dry and sanded flush before painting.",
            "For a fist-sized gap in a stud wall, cut a neat square, fit a patch of board on a batten behind it, then tape and skim the joins.",
        ],
        "related": [
            "Heavy shelves on hollow walls need spring toggles or fixings into the timber studs.",
        ],
        "decoys": [
            "Filling a hole in a lawn: spread topsoil and sow a pinch of seed in spring.",
            "The hole in the fence lets the neighbour's dog into the garden.",
        ],
    },
    {
        "query": "radiator cold at the top",
        "answers": [
            "Air trapped in a heater collects at its upper end; bleed it with a radiator key by opening the small valve until water spits out, then close it and check the boiler pressure.",
            "If the upper part stays cool while the bottom is warm, there is air inside; releasing it through the bleed screw restores the heat.",
        ],
        "related": [
            "A radiator cold at the bottom but warm at the top points to sludge, which a power flush removes.",
        ],
        "decoys": [
            "The cold snap at the top of the hill closed the road for two days.",
            "Radiator grilles on older cars were chromed and needed polishing.",
        ],
    },
    {
        "query": "stop a door from slamming",
        "answers": [
            "A soft-close damper fitted to the top of the frame slows the last few centimetres of the swing so the leaf closes quietly.",
            "Self-adhesive felt pads or a rubber strip along the frame cushion the impact; a wedge or a magnetic catch holds it open on draughty days.",
        ],
        "related": [
            "Drafts under exterior doors can be blocked with a brush strip screwed to the bottom edge.",
        ],
        "decoys": [
            "The bus stop by the door of the library moves during the road works.",
            "Slamming on the brakes on ice locks the wheels; pump them gently instead.",
        ],
    },
    {
        "query": "mould on the bedroom wall",
        "answers": [
            "Black spots on a bedroom wall come from condensation: air the room every morning, keep furniture a few centimetres from outside walls and clean the patches with a fungicidal wash.",
            "Damp patches that grow dark spores need the moisture source fixed first; a dehumidifier and steady low heating stop them returning.",
        ],
        "related": [
            "Rising damp shows as a tide mark up to a metre above the floor and needs a damp-proof course.",
        ],
        "decoys": [
            "Bedroom wall colours in soft greens are said to help people sleep.",
            "The mould for the chocolate bunnies must be polished before use.",
        ],
    },
    # -- pets -------------------------------------------------------------------------------
    {
        "query": "cat scratching the sofa",
        "answers": [
            "Put a tall, sturdy scratching post right beside the couch your cat has been clawing, rub catnip on it and praise her when she uses it.",
            "Cover the damaged arm with double-sided tape or a throw for a few weeks; felines dislike the sticky feel and move to a post you provide.",
        ],
        "related": [
            "Claws are trimmed every few weeks with pet clippers, cutting only the clear tip.",
        ],
        "decoys": [
            "The sofa bed in the spare room sleeps two adults.",
            "A cat flap with a microchip reader keeps the neighbour's cats out.",
        ],
    },
    {
        "query": "how much should I feed a puppy",
        "answers": [
            "Young dogs eat three or four small meals a day until about six months old; weigh the food and follow the chart on the bag for the expected adult weight.",
            "Portions for a growing pup depend on breed and age; feel the ribs weekly and adjust so you can feel them but not see them.",
        ],
        "related": [
            "Puppies need their first vaccinations at eight weeks and a second dose a month later.",
        ],
        "decoys": [
            "How much should I feed the birds in winter? A handful of seed and fat balls each morning.",
            "The puppy class meets on Saturday mornings in the village hall.",
        ],
    },
    {
        "query": "dog afraid of fireworks",
        "answers": [
            "On bonfire nights, walk your dog before dark, close the curtains, play music to mask the bangs and give it a den under a table with its blanket.",
            "Noise phobia can be reduced over months by playing recordings of explosions at a low volume during meals and slowly raising it.",
        ],
        "related": [
            "A thunder shirt is a snug vest that some anxious pets find calming.",
        ],
        "decoys": [
            "Fireworks must be bought from licensed sellers and lit at arm's length.",
            "The dog show was afraid of rain and moved into the marquee.",
        ],
    },
    {
        "query": "cleaning a fish tank",
        "answers": [
            "Change about a quarter of the aquarium water every week with a gravel siphon, and match the new water's temperature and treat it with dechlorinator.",
            "Rinse the filter sponge in old tank water, never under the tap, so the bacteria that break down waste survive.",
        ],
        "related": [
            "Goldfish grow much larger than people expect and need a big aquarium.",
        ],
        "decoys": [
            "Cleaning the septic tank is a job for a licensed contractor every two years.",
            "The fish and chip van comes to the square on Fridays.",
        ],
    },
    {
        "query": "rabbit not eating",
        "answers": [
            "A bunny that refuses food for more than twelve hours may have gut stasis, which is an emergency; call the vet and offer fresh hay and greens in the meantime.",
            "Overgrown teeth make chewing painful, so a house rabbit that stops feeding should have its mouth checked.",
        ],
        "related": [
            "Hay should make up most of a rabbit's diet, with a small portion of pellets.",
        ],
        "decoys": [
            "Not eating after eight in the evening is a popular diet rule with little evidence behind it.",
            "The rabbit hutch roof needs new felt before the rain.",
        ],
    },
    # -- energy at home ---------------------------------------------------------------------
    {
        "query": "do solar panels work on cloudy days",
        "answers": [
            "Photovoltaic modules still generate electricity under overcast skies, though output falls to somewhere between a tenth and a quarter of a sunny day's.",
            "Diffuse light passes through cloud cover, so a rooftop array keeps producing power in grey weather, only less of it.",
        ],
        "related": [
            "Panels facing south at a tilt of about thirty-five degrees collect the most energy in northern Europe.",
        ],
        "decoys": [
            "Cloudy days are good for painting outdoors because the paint dries evenly.",
            "The panels of the garden fence were replaced after the storm.",
        ],
    },
    {
        "query": "lower my heating bill",
        "answers": [
            "Turning the thermostat down by one degree cuts the gas used for warmth by several percent; add radiator valves to keep unused rooms cooler.",
            "Insulating the loft and sealing draughts around windows keep the warmth in, so the boiler runs less and the energy costs drop.",
        ],
        "related": [
            "Heat pumps move warmth from the outside air and are most efficient with underfloor heating.",
        ],
        "decoys": [
            "The bill for the heating engineer's visit was sent by post.",
            "Lower the bicycle saddle if your hips rock while pedalling.",
        ],
    },
    {
        "query": "is it cheaper to leave devices on standby",
        "answers": [
            "Appliances left in standby draw a small but constant current; switching them off at the wall saves a few pounds a year per device, so it is cheaper to turn them off.",
            "Phantom load from televisions, consoles and chargers adds up to a noticeable share of a household's electricity use; a switched power strip cuts it.",
        ],
        "related": [
            "Smart meters show the electricity used every half hour on a small display.",
        ],
        "decoys": [
            "Is it cheaper to buy devices refurbished? Often yes, with a shorter warranty.",
            "Leave the standby generator's tank full before the storm season.",
        ],
    },
    {
        "query": "washing machine at low temperature",
        "answers": [
            "Modern detergents clean well at thirty degrees, and running the laundry cool uses far less electricity because most of the energy goes into heating the water.",
            "Washing clothes in cold cycles saves power and keeps colours bright; run a hot wash once a month to keep the drum fresh.",
        ],
        "related": [
            "Front loaders use less water than top loaders for the same load.",
        ],
        "decoys": [
            "Washing the car at low temperature risks the water freezing on the locks.",
            "The machine shop repairs lawn mower engines at a fixed price.",
        ],
    },
    {
        "query": "how long does a home battery last",
        "answers": [
            "Lithium storage units in houses are usually guaranteed for about ten years and keep roughly seventy percent of their capacity by then.",
            "A domestic storage system typically manages six to ten thousand charge cycles before its capacity fades noticeably.",
        ],
        "related": [
            "Storing midday solar power in a battery lets a household use it in the evening.",
        ],
        "decoys": [
            "How long does a smoke alarm battery last? Test the alarm monthly and change the battery yearly.",
            "The home team lasted until the final minute before conceding.",
        ],
    },
]

#: Passages judged for no query: more of the same household world, so the run has plausible
#: candidates beyond each topic's own passages. Each is built from a subject and a remark.
FILLER_SUBJECTS = [
    "the bicycle pump",
    "the garden shed",
    "the kitchen scales",
    "the bathroom extractor fan",
    "the cat's water fountain",
    "the smart thermostat",
    "the tool box",
    "the spare tyre",
    "the herb planter",
    "the slow cooker",
    "the hallway light",
    "the dog lead",
    "the rain barrel",
    "the toaster",
    "the loft ladder",
    "the bird feeder",
    "the extension cable",
    "the fridge door seal",
    "the porch step",
    "the aquarium heater",
]
FILLER_REMARKS = [
    "was bought second hand at the spring market and still works well.",
    "needs a new screw, which the hardware shop on the corner keeps in stock.",
    "is covered by the guarantee for two more years.",
    "was moved to make room for the new shelves.",
    "gets checked at the start of every season as part of the household routine.",
    "came with instructions in six languages and a spare part in a small bag.",
    "is the item the family lends to the neighbours most often.",
    "was cleaned last weekend along with everything else in the room.",
]
