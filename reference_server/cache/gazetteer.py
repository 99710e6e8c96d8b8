"""Names the trap guard treats as entities even when typed in lower case (English and Portuguese).

Countries, large cities, languages, currencies and well-known products: the words a
user swaps in an otherwise identical question ("capital of france" / "capital of
spain"). Capitalized words and acronyms are recognised without this list.
"""

from __future__ import annotations


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` as a set."""
    return frozenset(text.split())


ENTITY_WORDS: frozenset[str] = word_set(
    """
    afghanistan afeganistão albania albânia algeria argélia
    angola argentina armenia armênia australia austrália
    austria áustria azerbaijan bahamas bangladesh belarus belgium bélgica bolivia bolívia bosnia brazil brasil
    bulgaria bulgária cambodia camboja cameroon camarões canada canadá chile china colombia colômbia congo
    croatia croácia cuba cyprus chipre czechia denmark
    dinamarca ecuador equador egypt egito england inglaterra
    estonia estônia ethiopia etiópia finland finlândia france frança germany alemanha ghana gana greece grécia
    guatemala haiti honduras hungary hungria iceland islândia india índia indonesia indonésia iran irã iraq
    iraque ireland irlanda israel italy itália jamaica
    japan japão jordan jordânia kazakhstan cazaquistão kenya
    quênia korea coreia kuwait latvia letônia lebanon líbano libya líbia lithuania lituânia luxembourg
    luxemburgo madagascar malaysia malásia mali mexico méxico moldova monaco mônaco mongolia mongólia morocco
    marrocos mozambique moçambique myanmar namibia namíbia nepal netherlands holanda zealand nicaragua nigeria
    nigéria norway noruega pakistan paquistão panama
    panamá paraguay paraguai peru philippines filipinas poland
    polônia portugal qatar catar romania romênia russia rússia rwanda ruanda scotland escócia senegal serbia
    sérvia singapore singapura slovakia eslováquia slovenia
    eslovênia somalia somália spain espanha sudan sudão
    sweden suécia switzerland suíça syria síria taiwan tanzania tanzânia thailand tailândia tunisia tunísia
    turkey turquia uganda ukraine ucrânia emirates emirados uruguay uruguai usa eua uzbekistan venezuela
    vietnam vietnã wales yemen iêmen zambia zâmbia zimbabwe zimbábue europe europa asia ásia africa áfrica
    america américa antarctica antártida
    paris london londres berlin berlim madrid rome roma lisbon lisboa porto tokyo tóquio beijing pequim
    moscow moscou washington york chicago boston seattle miami angeles francisco toronto vancouver montreal
    sydney melbourne dubai mumbai delhi bangkok seoul seul singapore cairo lagos nairobi istanbul istambul
    athens atenas vienna viena prague praga warsaw varsóvia amsterdam amsterdã brussels bruxelas dublin
    edinburgh geneva genebra zurich zurique milan milão barcelona munich munique hamburg hamburgo
    brasília brasilia paulo rio janeiro salvador fortaleza recife curitiba manaus belém belem goiânia
    goiania florianópolis florianopolis maceió maceio campinas
    horizonte alegre luanda maputo buenos aires santiago bogotá bogota caracas quito montevidéu
    montevideo assunção asuncion havana
    english inglês ingles portuguese português portugues spanish espanhol french francês frances german
    alemão alemao italian italiano japanese japonês japones chinese chinês chines mandarin mandarim russian
    russo arabic árabe arabe hindi korean coreano dutch holandês holandes
    dollar dólar dolar dollars dólares dolares euro euros reais pound pounds libra libras yen iene
    bitcoin
    python java javascript typescript rust golang kotlin swift ruby php sql postgres postgresql mysql redis
    linux windows macos android ios iphone ipad macbook pixel galaxy powerpoint outlook
    slack chrome firefox safari google apple microsoft amazon netflix spotify tesla openai
    whatsapp instagram facebook twitter youtube tiktok linkedin paypal mastercard pix nubank itaú itau
    bradesco santander
    """
)
