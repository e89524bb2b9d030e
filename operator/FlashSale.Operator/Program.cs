using FlashSale.Operator;
using FlashSale.Operator.Crd;

return args.FirstOrDefault() switch
{
    "crds" => CrdCommand.Run(args[1..], Console.Out),
    "local" => await LocalCommand.RunAsync(args[1..], Console.Out, Console.Error),
    "render" => RenderCommand.Run(args[1..], Console.Out, Console.Error),
    _ => await OperatorHost.RunAsync(args),
};
